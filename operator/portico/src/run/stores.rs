//! Reflector stores for every kind translation reads, and a signal that fires on any change.

use std::sync::Arc;

use futures_util::StreamExt;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::grpcroutes::GrpcRoute;
use gateway_api::httproutes::HttpRoute;
use gateway_api::referencegrants::ReferenceGrant;
use gateway_api::tlsroutes::TlsRoute;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use portico_model::l4routes::{TcpRoute, UdpRoute};
use portico_model::{ParametersObject, Snapshot};
use portico_provider::Descriptor;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::metrics::Metrics;

/// Everything Portico watches, kept in memory by kube-rs reflectors.
#[derive(Clone)]
pub struct Stores {
    pub gateway_classes: Store<GatewayClass>,
    pub gateways: Store<Gateway>,
    pub http_routes: Store<HttpRoute>,
    pub grpc_routes: Store<GrpcRoute>,
    pub tls_routes: Store<TlsRoute>,
    pub tcp_routes: Store<TcpRoute>,
    pub udp_routes: Store<UdpRoute>,
    pub reference_grants: Store<ReferenceGrant>,
    pub services: Store<Service>,
    pub endpoint_slices: Store<EndpointSlice>,
    pub secrets: Store<Secret>,
    pub namespaces: Store<Namespace>,
    /// The parameters kind of each enabled provider (the other providers' CRDs may be absent).
    pub parameters: Vec<(String, Store<DynamicObject>)>,
    /// Fires whenever any watched object changes.
    pub changed: Arc<Notify>,
}

/// Start a reflector for `K` in the background; its events wake `changed`.
fn reflect<K>(client: &Client, changed: &Arc<Notify>, metrics: &Arc<Metrics>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let api: Api<K> = Api::all(client.clone());
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
    follow(stream, K::kind(&K::DynamicType::default()).to_string(), changed, metrics);
    reader
}

/// Drive a reflector's stream in the background: every event wakes `changed`, every error is
/// counted and logged (the watcher retries with backoff).
fn follow<T, E: std::fmt::Display + Send + 'static>(
    stream: impl futures_util::Stream<Item = Result<T, E>> + Send + 'static,
    kind: String,
    changed: &Arc<Notify>,
    metrics: &Arc<Metrics>,
) {
    let changed = changed.clone();
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
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
    pub fn start(client: &Client, metrics: &Arc<Metrics>, providers: &[&'static Descriptor]) -> Stores {
        let changed = Arc::new(Notify::new());
        let parameters = providers
            .iter()
            .map(|d| crd_resource(&(d.parameters_crd)()))
            .map(|resource| (resource.kind.clone(), reflect_dynamic(client, &changed, metrics, resource)))
            .collect();
        Stores {
            gateway_classes: reflect(client, &changed, metrics),
            gateways: reflect(client, &changed, metrics),
            http_routes: reflect(client, &changed, metrics),
            grpc_routes: reflect(client, &changed, metrics),
            tls_routes: reflect(client, &changed, metrics),
            tcp_routes: reflect(client, &changed, metrics),
            udp_routes: reflect(client, &changed, metrics),
            reference_grants: reflect(client, &changed, metrics),
            services: reflect(client, &changed, metrics),
            endpoint_slices: reflect(client, &changed, metrics),
            secrets: reflect(client, &changed, metrics),
            namespaces: reflect(client, &changed, metrics),
            parameters,
            changed,
        }
    }

    /// Wait until every store has completed its first list.
    pub async fn ready(&self) {
        let _ = tokio::join!(
            self.gateway_classes.wait_until_ready(),
            self.gateways.wait_until_ready(),
            self.http_routes.wait_until_ready(),
            self.grpc_routes.wait_until_ready(),
            self.tls_routes.wait_until_ready(),
            self.tcp_routes.wait_until_ready(),
            self.udp_routes.wait_until_ready(),
            self.reference_grants.wait_until_ready(),
            self.services.wait_until_ready(),
            self.endpoint_slices.wait_until_ready(),
            self.secrets.wait_until_ready(),
            self.namespaces.wait_until_ready(),
        );
        for (_, store) in &self.parameters {
            let _ = store.wait_until_ready().await;
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
        Snapshot {
            gateway_classes: all(&self.gateway_classes),
            gateways: all(&self.gateways),
            http_routes: all(&self.http_routes),
            grpc_routes: all(&self.grpc_routes),
            tls_routes: all(&self.tls_routes),
            tcp_routes: all(&self.tcp_routes),
            udp_routes: all(&self.udp_routes),
            reference_grants: all(&self.reference_grants),
            services: all(&self.services),
            endpoint_slices: all(&self.endpoint_slices),
            secrets: all(&self.secrets),
            namespaces: all(&self.namespaces),
            parameters: self.parameters(),
        }
    }
}

impl Stores {
    fn parameters(&self) -> Vec<ParametersObject> {
        let mut out = Vec::new();
        for (kind, store) in &self.parameters {
            out.extend(store.state().iter().map(|p| parameters_object(kind, &p.metadata, &p.data["spec"])));
        }
        out
    }
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
fn reflect_dynamic(client: &Client, changed: &Arc<Notify>, metrics: &Arc<Metrics>, resource: ApiResource) -> Store<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let writer = reflector::store::Writer::new(resource.clone());
    let reader = writer.as_reader();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
    follow(stream, resource.kind.clone(), changed, metrics);
    reader
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
