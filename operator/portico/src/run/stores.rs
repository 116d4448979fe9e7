//! Reflector stores for every kind translation reads, and a signal that fires on any change.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use gateway_api::backendtlspolicies::BackendTlsPolicy;
use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use gateway_api::experimental::grpcroutes::GrpcRoute;
use gateway_api::experimental::httproutes::HttpRoute;
use gateway_api::experimental::listenersets::ListenerSet;
use gateway_api::experimental::referencegrants::ReferenceGrant;
use gateway_api::experimental::tlsroutes::TlsRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use portico_model::capabilities::RouteKind;
use portico_model::l4routes::{TcpRoute, UdpRoute};
use portico_model::{ParametersObject, Snapshot};
use portico_provider::Descriptor;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::metrics::Metrics;
use super::scope::{Selector, Watch};

/// Everything Portico watches, kept in memory by kube-rs reflectors.
#[derive(Clone)]
pub struct Stores {
    pub gateway_classes: Store<GatewayClass>,
    pub gateways: Watched<Gateway>,
    /// ListenerSets, once the cluster serves their CRD (v1.5 standard channel).
    pub listener_sets: Optional<ListenerSet>,
    pub http_routes: Watched<HttpRoute>,
    pub grpc_routes: Optional<GrpcRoute>,
    pub tls_routes: Optional<TlsRoute>,
    pub tcp_routes: Optional<TcpRoute>,
    pub udp_routes: Optional<UdpRoute>,
    pub reference_grants: Watched<ReferenceGrant>,
    /// BackendTLSPolicies, once the cluster serves their CRD.
    pub backend_tls_policies: Optional<BackendTlsPolicy>,
    pub services: Watched<Service>,
    pub endpoint_slices: Watched<EndpointSlice>,
    pub secrets: Watched<Secret>,
    /// ConfigMaps reduced to their `ca.crt` (client certificate validation's CA bundles).
    pub config_maps: Watched<ConfigMap>,
    pub namespaces: Store<Namespace>,
    /// The parameters kind of each enabled provider (the other providers' CRDs may be absent).
    pub parameters: Vec<(String, Watched<DynamicObject>)>,
    /// Only namespaces whose labels match this selector are served (`--watch-selector`).
    selector: Option<Selector>,
    /// Fires whenever any watched object changes (except by Portico's own status writes).
    pub changed: Arc<Changes>,
}

/// The change signal, and the status writes Portico made itself: the watch event a status write
/// causes holds nothing but that write (routes are written over the resourceVersion read; any
/// other change has its own, earlier event), so it updates the store without waking the
/// reconciler, which otherwise translated everything once more after every pass that wrote a
/// status. An event is the echo of a write when it carries the resourceVersion the write
/// returned, or, before the write's answer is in (the event may come first), exactly the status
/// written.
#[derive(Default)]
pub struct Changes {
    notify: Notify,
    /// (kind, namespace, name) -> (status written, resourceVersion once the write answered).
    echoes: std::sync::Mutex<std::collections::HashMap<(String, String, String), (serde_json::Value, Option<String>)>>,
}

impl std::ops::Deref for Changes {
    type Target = Notify;

    fn deref(&self) -> &Notify {
        &self.notify
    }
}

fn echo_key(kind: &str, namespace: Option<&str>, name: &str) -> (String, String, String) {
    (kind.to_string(), namespace.unwrap_or_default().to_string(), name.to_string())
}

impl Changes {
    /// A status write of ours is about to be sent.
    pub fn writing(&self, kind: &str, namespace: Option<&str>, name: &str, status: &serde_json::Value) {
        if let Ok(mut echoes) = self.echoes.lock() {
            echoes.insert(echo_key(kind, namespace, name), (status.clone(), None));
        }
    }

    /// How the write ended: the resourceVersion it produced, or `None` when it failed.
    pub fn written(&self, kind: &str, namespace: Option<&str>, name: &str, resource_version: Option<&str>) {
        let Ok(mut echoes) = self.echoes.lock() else { return };
        let key = echo_key(kind, namespace, name);
        match resource_version {
            Some(rv) => {
                if let Some(entry) = echoes.get_mut(&key) {
                    entry.1 = Some(rv.to_string());
                }
            }
            None => _ = echoes.remove(&key),
        }
    }

    /// Forget writes not seen back (at the start of a pass): a late one only wakes a pass.
    pub fn forget_writes(&self) {
        if let Ok(mut echoes) = self.echoes.lock() {
            echoes.clear();
        }
    }

    /// Whether this object is what one of our status writes left (and forget that write).
    fn is_echo<K: serde::Serialize>(&self, kind: &str, object: &K, meta: &kube::api::ObjectMeta) -> bool {
        let Ok(mut echoes) = self.echoes.lock() else { return false };
        if echoes.is_empty() {
            return false;
        }
        let key = echo_key(kind, meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default());
        let Some((status, rv)) = echoes.get(&key) else { return false };
        let echo = match rv {
            Some(rv) => meta.resource_version.as_deref() == Some(rv.as_str()),
            None => serde_json::to_value(object).is_ok_and(|o| o.get("status") == Some(status)),
        };
        if echo {
            echoes.remove(&key);
        }
        echo
    }
}

/// What is watched: every namespace, or only those listed (`--watch-namespace`), whose objects
/// are then listed and watched one namespace at a time (so namespaced RBAC suffices for them).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub namespaces: Vec<String>,
}

impl Scope {
    /// One API per watched namespace (`None`: all of them), for typed and dynamic kinds alike.
    fn apis<K>(&self, all: impl Fn() -> Api<K>, namespaced: impl Fn(&str) -> Api<K>) -> Vec<Api<K>> {
        if self.namespaces.is_empty() { vec![all()] } else { self.namespaces.iter().map(|ns| namespaced(ns)).collect() }
    }
}

/// The stores of one namespaced kind: one per watched namespace (or one for all).
#[derive(Clone)]
pub struct Watched<K: Resource + 'static>(Vec<Store<K>>)
where
    K::DynamicType: Eq + std::hash::Hash + Clone;

impl<K> Watched<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    pub fn all(&self) -> Vec<K> {
        self.0.iter().flat_map(|s| s.state().iter().map(|o| (**o).clone()).collect::<Vec<_>>()).collect()
    }

    /// One object by namespace and name, without copying the others.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>>
    where
        K::DynamicType: Default,
    {
        let key = reflector::ObjectRef::new(name).within(namespace);
        self.0.iter().find_map(|s| s.get(&key))
    }

    async fn ready(&self) {
        for store in &self.0 {
            let _ = store.wait_until_ready().await;
        }
    }
}

/// Reflectors for a namespaced kind over `scope`.
fn watched<K>(client: &Client, changed: &Arc<Changes>, metrics: &Arc<Metrics>, scope: &Scope, config: &watcher::Config) -> Watched<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let apis = scope.apis(|| Api::all(client.clone()), |ns| Api::namespaced(client.clone(), ns));
    Watched(apis.into_iter().map(|api| reflect_api(api, changed, metrics, config.clone())).collect())
}

/// ConfigMaps, each reduced to its `ca.crt` key before it is stored: the CA bundles that client
/// certificate validation references, without holding every ConfigMap's data in memory.
fn ca_bundles(client: &Client, changed: &Arc<Changes>, metrics: &Arc<Metrics>, scope: &Scope) -> Watched<ConfigMap> {
    let apis = scope.apis(|| Api::all(client.clone()), |ns| Api::namespaced(client.clone(), ns));
    let stores = apis.into_iter().map(|api| {
        let (reader, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default()).default_backoff().modify(keep_ca_bundle);
        follow(reflector::reflector(writer, stream), "ConfigMap".into(), changed, metrics);
        reader
    });
    Watched(stores.collect())
}

fn keep_ca_bundle(map: &mut ConfigMap) {
    map.binary_data = None;
    map.metadata.managed_fields = None;
    map.metadata.annotations = None;
    if let Some(data) = &mut map.data {
        data.retain(|key, _| key == portico_model::snapshot::CA_BUNDLE_KEY);
    }
}

/// Start a reflector for a cluster-scoped `K` in the background; its events wake `changed`.
fn reflect<K>(client: &Client, changed: &Arc<Changes>, metrics: &Arc<Metrics>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    reflect_api(Api::all(client.clone()), changed, metrics, watcher::Config::default())
}

fn reflect_api<K>(api: Api<K>, changed: &Arc<Changes>, metrics: &Arc<Metrics>, config: watcher::Config) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    follow(stream, K::kind(&K::DynamicType::default()).to_string(), changed, metrics);
    reader
}

/// Drive a reflector's stream in the background: every event wakes `changed` (except the echo
/// of one of our status writes), every error is counted and logged (the watcher retries with
/// backoff).
fn follow<K: Resource + serde::Serialize + Send + 'static, E: std::fmt::Display + Send + 'static>(
    stream: impl futures_util::Stream<Item = Result<watcher::Event<K>, E>> + Send + 'static,
    kind: String,
    changed: &Arc<Changes>,
    metrics: &Arc<Metrics>,
) {
    let changed = changed.clone();
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(object)) if changed.is_echo(&kind, &object, object.meta()) => {}
                Ok(_) => changed.notify_one(),
                Err(error) => {
                    metrics.watch_error(&kind);
                    tracing::warn!(kind = %kind, %error, "watch failed; retrying with backoff");
                }
            }
        }
    });
}

impl Stores {
    pub fn start(client: &Client, metrics: &Arc<Metrics>, providers: &[&'static Descriptor], watch: &Watch) -> Stores {
        let changed = Arc::new(Changes::default());
        let (scope, discovery) = (&watch.scope, watch.discovery);
        let plain = watcher::Config::default();
        let parameters = providers
            .iter()
            .map(|d| crd_resource(&(d.parameters_crd)()))
            .map(|resource| (resource.kind.clone(), reflect_dynamic(client, &changed, metrics, resource, scope)))
            .collect();
        // Certificates only: no other Secret is ever listed or held in memory.
        let tls_only = watcher::Config::default().fields(&format!("type={}", portico_model::snapshot::TLS_SECRET_TYPE));
        Stores {
            gateway_classes: reflect(client, &changed, metrics),
            gateways: watched(client, &changed, metrics, scope, &plain),
            listener_sets: optional(client, &changed, metrics, scope, discovery),
            http_routes: watched(client, &changed, metrics, scope, &plain),
            grpc_routes: optional(client, &changed, metrics, scope, discovery),
            tls_routes: optional(client, &changed, metrics, scope, discovery),
            tcp_routes: optional(client, &changed, metrics, scope, discovery),
            udp_routes: optional(client, &changed, metrics, scope, discovery),
            reference_grants: watched(client, &changed, metrics, scope, &plain),
            backend_tls_policies: optional(client, &changed, metrics, scope, discovery),
            services: watched(client, &changed, metrics, scope, &plain),
            endpoint_slices: watched(client, &changed, metrics, scope, &plain),
            secrets: watched(client, &changed, metrics, scope, &tls_only),
            config_maps: ca_bundles(client, &changed, metrics, scope),
            namespaces: reflect(client, &changed, metrics),
            parameters,
            selector: watch.selector.clone(),
            changed,
        }
    }

    /// Wait until every store has completed its first list.
    pub async fn ready(&self) {
        let _ = tokio::join!(
            self.gateway_classes.wait_until_ready(),
            self.gateways.ready(),
            self.listener_sets.checked(),
            self.http_routes.ready(),
            self.grpc_routes.checked(),
            self.tls_routes.checked(),
            self.tcp_routes.checked(),
            self.udp_routes.checked(),
            self.reference_grants.ready(),
            self.backend_tls_policies.checked(),
            self.services.ready(),
            self.endpoint_slices.ready(),
            self.secrets.ready(),
            self.config_maps.ready(),
            self.namespaces.wait_until_ready(),
        );
        for (_, store) in &self.parameters {
            store.ready().await;
        }
    }

    /// The current state as a translation input.
    pub fn snapshot(&self) -> Snapshot {
        fn all<K>(store: &Store<K>) -> Vec<K>
        where
            K: Clone + kube::runtime::reflector::Lookup,
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            store.state().iter().map(|o| (**o).clone()).collect()
        }
        let mut snapshot = Snapshot {
            gateway_classes: all(&self.gateway_classes),
            gateways: self.gateways.all(),
            listener_sets: self.listener_sets.all(),
            http_routes: self.http_routes.all(),
            grpc_routes: self.grpc_routes.all(),
            tls_routes: self.tls_routes.all(),
            tcp_routes: self.tcp_routes.all(),
            udp_routes: self.udp_routes.all(),
            reference_grants: self.reference_grants.all(),
            backend_tls_policies: self.backend_tls_policies.all(),
            services: self.services.all(),
            endpoint_slices: self.endpoint_slices.all(),
            secrets: self.secrets.all(),
            config_maps: self.config_maps.all(),
            namespaces: all(&self.namespaces),
            parameters: self.parameters(),
        };
        if let Some(selector) = &self.selector {
            let served: BTreeSet<String> = snapshot
                .namespaces
                .iter()
                .filter(|ns| selector.matches(ns.metadata.labels.as_ref().unwrap_or(&Default::default())))
                .filter_map(|ns| ns.metadata.name.clone())
                .collect();
            snapshot.retain_namespaces(|ns| served.contains(ns));
        }
        snapshot
    }
}

impl Stores {
    /// The route kinds whose CRDs this cluster does not serve (yet).
    pub fn missing_route_kinds(&self) -> BTreeSet<RouteKind> {
        let optional = [
            (RouteKind::Grpc, self.grpc_routes.served()),
            (RouteKind::Tls, self.tls_routes.served()),
            (RouteKind::Tcp, self.tcp_routes.served()),
            (RouteKind::Udp, self.udp_routes.served()),
        ];
        optional.into_iter().filter(|(_, served)| !served).map(|(kind, _)| kind).collect()
    }

    /// The features whose CRDs this cluster does not serve (yet): not claimed.
    pub fn missing_policy_features(&self) -> Vec<portico_model::Feature> {
        use portico_model::Feature;
        let mut out = Vec::new();
        if !self.listener_sets.served() {
            out.push(Feature::ListenerSet);
        }
        if !self.backend_tls_policies.served() {
            // Without policies nothing is reached over TLS, so no client certificate is presented.
            out.extend([Feature::BackendTlsPolicy, Feature::BackendTlsPolicySanValidation, Feature::GatewayBackendClientCertificate]);
        }
        out
    }

    fn parameters(&self) -> Vec<ParametersObject> {
        let mut out = Vec::new();
        for (kind, store) in &self.parameters {
            out.extend(store.all().iter().map(|p| parameters_object(kind, &p.metadata, &p.data["spec"])));
        }
        out
    }
}

/// A kind whose CRD may be missing (a cluster with only the standard channel, or an older one):
/// watched once discovery shows it is served, re-checked every discovery interval so a CRD
/// installed later is picked up without a restart. Until then it has no objects.
#[derive(Clone)]
pub struct Optional<K: Resource + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Arc<OnceLock<Watched<K>>>,
    /// Turns true once the first discovery check is done (and, if served, the first list).
    checked: tokio::sync::watch::Receiver<bool>,
}

impl<K> Optional<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    fn all(&self) -> Vec<K> {
        self.store.get().map(Watched::all).unwrap_or_default()
    }

    pub fn served(&self) -> bool {
        self.store.get().is_some()
    }

    async fn checked(&self) {
        let mut checked = self.checked.clone();
        let _ = checked.wait_for(|done| *done).await;
    }
}

/// Whether the API server serves `plural` in `group/version` (legacy discovery).
async fn served(client: &Client, group: &str, version: &str, plural: &str) -> bool {
    client.list_api_group_resources(&format!("{group}/{version}")).await.is_ok_and(|list| list.resources.iter().any(|r| r.name == plural))
}

fn optional<K>(client: &Client, changed: &Arc<Changes>, metrics: &Arc<Metrics>, scope: &Scope, interval: Duration) -> Optional<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let store = Arc::new(OnceLock::new());
    let (done, checked) = tokio::sync::watch::channel(false);
    let (client, changed, metrics, slot, scope) = (client.clone(), changed.clone(), metrics.clone(), store.clone(), scope.clone());
    let version = K::version(&K::DynamicType::default()).to_string();
    let (kind, plural) = (K::kind(&K::DynamicType::default()).to_string(), K::plural(&K::DynamicType::default()).to_string());
    tokio::spawn(async move {
        let mut logged = false;
        while !served(&client, portico_model::GATEWAY_GROUP, &version, &plural).await {
            if !logged {
                tracing::warn!(kind = %kind, version = %version, "this cluster does not serve the CRD: its objects are skipped and its features not claimed; re-checked every {interval:?}");
                logged = true;
            }
            let _ = done.send(true);
            tokio::time::sleep(interval).await;
        }
        let reader: Watched<K> = watched(&client, &changed, &metrics, &scope, &watcher::Config::default());
        reader.ready().await;
        if logged {
            tracing::info!(kind = %kind, "the CRD is now served: watching it");
        }
        let _ = slot.set(reader);
        let _ = done.send(true);
        changed.notify_one();
    });
    Optional { store, checked }
}

/// The API resource of a CRD's storage version.
fn crd_resource(crd: &CustomResourceDefinition) -> ApiResource {
    let spec = &crd.spec;
    let version = spec.versions.iter().find(|v| v.storage).or(spec.versions.first()).map(|v| v.name.clone()).unwrap_or_default();
    ApiResource {
        group: spec.group.clone(),
        version: version.clone(),
        api_version: format!("{}/{version}", spec.group),
        kind: spec.names.kind.clone(),
        plural: spec.names.plural.clone(),
    }
}

/// A reflector for objects of a kind known only at run time (the providers' parameters).
fn reflect_dynamic(client: &Client, changed: &Arc<Changes>, metrics: &Arc<Metrics>, resource: ApiResource, scope: &Scope) -> Watched<DynamicObject> {
    let apis = scope.apis(|| Api::all_with(client.clone(), &resource), |ns| Api::namespaced_with(client.clone(), ns, &resource));
    Watched(
        apis.into_iter()
            .map(|api| {
                let writer = reflector::store::Writer::new(resource.clone());
                let reader = writer.as_reader();
                let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
                follow(stream, resource.kind.clone(), changed, metrics);
                reader
            })
            .collect(),
    )
}

fn parameters_object(kind: &str, metadata: &kube::api::ObjectMeta, spec: &impl serde::Serialize) -> ParametersObject {
    ParametersObject {
        group: portico_model::capabilities::PORTICO_GROUP.to_string(),
        kind: kind.to_string(),
        namespace: metadata.namespace.clone(),
        name: metadata.name.clone().unwrap_or_default(),
        spec: serde_json::to_value(spec).unwrap_or_default(),
    }
}
