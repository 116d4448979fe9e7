//! One reconcile of the whole snapshot: finalizers, provider programming, status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::Client;
use portico_model::ir::ObjectRef;
use portico_model::{ProviderKind, Snapshot};
use portico_provider::{Applied, Desired, ProviderError};
use portico_translate::status::GatewayStatus;
use portico_translate::{conditions, translate, CapabilitySet, Translation};
use serde_json::{json, Value};

use super::metrics::Metrics;
use super::status;
use super::stores::Stores;

pub const GATEWAY_FINALIZER: &str = "portico.dev/cleanup";
pub const CLASS_FINALIZER: &str = "gateway-exists-finalizer.gateway.networking.k8s.io";

fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource { group: group.into(), version: "v1".into(), api_version: format!("{group}/v1"), kind: kind.into(), plural: plural.into() }
}

pub struct Reconciler {
    client: Client,
    stores: Stores,
    metrics: Arc<Metrics>,
    capabilities: CapabilitySet,
    state_dir: PathBuf,
    haproxy: BTreeMap<String, portico_haproxy::runtime::Instance>,
    /// What each Gateway was last programmed with, and the outcome.
    applied: BTreeMap<ObjectRef, (Value, Result<Applied, ProviderError>, String)>,
}

impl Reconciler {
    pub fn new(client: Client, stores: Stores, metrics: Arc<Metrics>, providers: &[ProviderKind], state_dir: PathBuf) -> Self {
        let all = crate::all_capabilities();
        let capabilities = CapabilitySet::new(providers.iter().filter_map(|p| all.get(*p).cloned()));
        Reconciler { client, stores, metrics, capabilities, state_dir, haproxy: BTreeMap::new(), applied: BTreeMap::new() }
    }

    /// One pass; returns true when something failed and should be retried (with backoff).
    pub async fn reconcile(&mut self, force: bool) -> bool {
        let started = Instant::now();
        let snapshot = self.stores.snapshot();
        let translation = translate(&snapshot, &self.capabilities);
        let deleting = self.finalize(&snapshot, &translation).await;
        self.program(&snapshot, &translation, &deleting, force).await;
        let ok = self.write_statuses(&snapshot, &translation, &deleting).await;
        self.metrics.reconciled(ok, started.elapsed().as_secs_f64());
        let provider_failed = self.applied.values().any(|(_, result, _)| result.is_err());
        !ok || provider_failed
    }

    /// Add our finalizer to owned Gateways; for Gateways being deleted, return them so the
    /// provider removes their resources before the finalizer goes.
    async fn finalize(&mut self, snapshot: &Snapshot, translation: &Translation) -> Vec<ObjectRef> {
        let mut deleting = Vec::new();
        let api = resource("gateway.networking.k8s.io", "Gateway", "gateways");
        for gw in &snapshot.gateways {
            let key = ObjectRef::new(gw.metadata.namespace.clone().unwrap_or_default(), gw.metadata.name.clone().unwrap_or_default());
            if !translation.statuses.gateways.contains_key(&key) {
                continue;
            }
            let finalizers = gw.metadata.finalizers.clone().unwrap_or_default();
            let has = finalizers.iter().any(|f| f == GATEWAY_FINALIZER);
            if gw.metadata.deletion_timestamp.is_some() {
                if has {
                    deleting.push(key);
                }
                continue;
            }
            if !has {
                let mut wanted = finalizers;
                wanted.push(GATEWAY_FINALIZER.into());
                self.set_finalizers(&api, Some(&key.namespace), &key.name, gw.metadata.resource_version.as_deref(), wanted).await;
            }
        }
        self.finalize_classes(snapshot, translation).await;
        deleting
    }

    async fn finalize_classes(&self, snapshot: &Snapshot, translation: &Translation) {
        let api = resource("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses");
        for class in &snapshot.gateway_classes {
            let name = class.metadata.name.clone().unwrap_or_default();
            if !translation.statuses.gateway_classes.contains_key(&name) {
                continue;
            }
            let in_use = snapshot.gateways.iter().any(|g| g.spec.gateway_class_name == name && g.metadata.deletion_timestamp.is_none());
            let finalizers = class.metadata.finalizers.clone().unwrap_or_default();
            let has = finalizers.iter().any(|f| f == CLASS_FINALIZER);
            if in_use != has {
                let wanted: Vec<String> = if in_use {
                    finalizers.into_iter().chain([CLASS_FINALIZER.to_string()]).collect()
                } else {
                    finalizers.into_iter().filter(|f| f != CLASS_FINALIZER).collect()
                };
                self.set_finalizers(&api, None, &name, class.metadata.resource_version.as_deref(), wanted).await;
            }
        }
    }

    async fn set_finalizers(&self, resource: &ApiResource, namespace: Option<&str>, name: &str, rv: Option<&str>, finalizers: Vec<String>) {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        };
        let patch = json!({"metadata": {"resourceVersion": rv, "finalizers": finalizers}});
        if let Err(error) = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            self.metrics.error("finalizer");
            tracing::warn!(gateway = %name, %error, "finalizer update failed; retrying on the next pass");
            self.stores.changed.notify_one();
        }
    }

    /// Program the Gateways whose desired state changed (all of them on a drift tick).
    async fn program(&mut self, snapshot: &Snapshot, translation: &Translation, deleting: &[ObjectRef], force: bool) {
        let mut groups: BTreeMap<String, (portico_haproxy::params::HAProxyParametersSpec, BTreeMap<ObjectRef, Desired>)> = BTreeMap::new();
        for (key, ir) in &translation.gateways {
            if ir.provider != ProviderKind::Haproxy || deleting.contains(key) {
                continue;
            }
            let (group, spec) = parameters_of(snapshot, ir);
            let desired = Desired {
                ir: ir.clone(),
                certificates: certificates_for(snapshot, ir),
                parameters: serde_json::to_value(&spec).unwrap_or_default(),
                current_addresses: current_addresses(snapshot, key),
            };
            groups.entry(group).or_insert_with(|| (spec, BTreeMap::new())).1.insert(key.clone(), desired);
        }
        let previously: Vec<String> = self.haproxy.keys().cloned().collect();
        for group in previously {
            groups.entry(group).or_insert_with(|| (Default::default(), BTreeMap::new()));
        }
        for (group, (spec, desired)) in groups {
            let fingerprint: BTreeMap<&ObjectRef, Value> = desired.iter().map(|(k, d)| (k, fingerprint_of(d))).collect();
            let changed = desired.iter().any(|(k, _)| self.applied.get(k).is_none_or(|(f, r, _)| Some(f) != fingerprint.get(k) || r.is_err()))
                || self.applied.iter().any(|(k, (_, _, g))| *g == group && !desired.contains_key(k));
            if !changed && !force {
                continue;
            }
            let span = tracing::info_span!("program", provider = "haproxy", instance = %group, gateways = ?desired.keys().map(ToString::to_string).collect::<Vec<_>>());
            let _entered = span.enter();
            let instance = self.haproxy.entry(group.clone()).or_insert_with(|| portico_haproxy::runtime::Instance::new(spec.clone(), &self.state_dir.join(sanitize(&group))));
            self.metrics.provider_call("haproxy", "apply");
            let results = instance.sync(&desired).await;
            if desired.is_empty() {
                instance.stop().await;
            }
            self.applied.retain(|k, (_, _, g)| *g != group || desired.contains_key(k));
            for (key, result) in results {
                if let Err(error) = &result {
                    self.metrics.error("provider");
                    tracing::warn!(gateway = %key, %error, retryable = error.retryable(), "programming failed");
                    self.event(&key, error).await;
                }
                let fp = fingerprint.get(&key).cloned().unwrap_or(Value::Null);
                self.applied.insert(key, (fp, result, group.clone()));
            }
        }
        for key in deleting {
            self.remove_finalizer(snapshot, key).await;
        }
    }

    async fn remove_finalizer(&self, snapshot: &Snapshot, key: &ObjectRef) {
        let Some(gw) = snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name)) else { return };
        let wanted: Vec<String> = gw.metadata.finalizers.clone().unwrap_or_default().into_iter().filter(|f| f != GATEWAY_FINALIZER).collect();
        let api = resource("gateway.networking.k8s.io", "Gateway", "gateways");
        self.set_finalizers(&api, Some(&key.namespace), &key.name, gw.metadata.resource_version.as_deref(), wanted).await;
        tracing::info!(gateway = %key, "load balancer resources removed; finalizer released");
    }

    /// A Warning Event on the Gateway, for `kubectl describe` and `kubectl get events`.
    async fn event(&self, key: &ObjectRef, error: &ProviderError) {
        let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(self.client.clone(), &key.namespace);
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
        let event = serde_json::from_value(json!({
            "metadata": {"generateName": format!("{}.", key.name)},
            "involvedObject": {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "namespace": key.namespace, "name": key.name},
            "type": "Warning", "reason": "ProgrammingFailed", "message": error.to_string(),
            "source": {"component": "portico"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1
        }));
        if let Ok(event) = event {
            let _ = api.create(&PostParams::default(), &event).await;
        }
    }

    async fn write_statuses(&self, snapshot: &Snapshot, translation: &Translation, deleting: &[ObjectRef]) -> bool {
        let now = crate::plan::now_rfc3339();
        let mut ok = true;
        let classes = resource("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses");
        for class in &snapshot.gateway_classes {
            let name = class.metadata.name.clone().unwrap_or_default();
            let Some(desired) = translation.statuses.gateway_classes.get(&name) else { continue };
            let desired = crate::plan::stamp(serde_json::to_value(desired).unwrap_or_default(), &now);
            let current = class.status.as_ref().and_then(|s| serde_json::to_value(s).ok());
            // Portico is the only writer of an owned class's status: no resourceVersion guard, so a
            // finalizer update earlier in the pass does not turn into a conflict.
            ok &= self.write(&classes, None, &name, None, current.as_ref(), desired).await;
        }
        let gateways = resource("gateway.networking.k8s.io", "Gateway", "gateways");
        for gw in &snapshot.gateways {
            let key = ObjectRef::new(gw.metadata.namespace.clone().unwrap_or_default(), gw.metadata.name.clone().unwrap_or_default());
            let Some(computed) = translation.statuses.gateways.get(&key) else { continue };
            if deleting.contains(&key) {
                continue;
            }
            let mut computed = computed.clone();
            self.merge_provider_result(&key, &mut computed);
            let desired = crate::plan::stamp(serde_json::to_value(&computed).unwrap_or_default(), &now);
            let current = gw.status.as_ref().and_then(|s| serde_json::to_value(s).ok());
            ok &= self.write(&gateways, Some(&key.namespace), &key.name, None, current.as_ref(), desired).await;
        }
        ok & self.write_route_statuses(snapshot, translation, &now).await
    }

    async fn write_route_statuses(&self, snapshot: &Snapshot, translation: &Translation, now: &str) -> bool {
        let mut ok = true;
        let mut routes: Vec<(ApiResource, &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, Option<Value>, portico_model::RouteKind)> = Vec::new();
        use portico_model::RouteKind as K;
        let g = "gateway.networking.k8s.io";
        routes.extend(snapshot.http_routes.iter().map(|r| (resource(g, "HTTPRoute", "httproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Http)));
        routes.extend(snapshot.grpc_routes.iter().map(|r| (resource(g, "GRPCRoute", "grpcroutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Grpc)));
        routes.extend(snapshot.tls_routes.iter().map(|r| (resource(g, "TLSRoute", "tlsroutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Tls)));
        routes.extend(snapshot.tcp_routes.iter().map(|r| (resource(g, "TCPRoute", "tcproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Tcp)));
        routes.extend(snapshot.udp_routes.iter().map(|r| (resource(g, "UDPRoute", "udproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Udp)));
        for (api, meta, current, kind) in routes {
            let key = portico_translate::status::RouteKey { kind, namespace: meta.namespace.clone().unwrap_or_default(), name: meta.name.clone().unwrap_or_default() };
            let Some(computed) = translation.statuses.routes.get(&key) else { continue };
            let desired = crate::plan::route_status_json(computed, now);
            ok &= self.write(&api, Some(&key.namespace), &key.name, meta.resource_version.as_deref(), current.as_ref(), desired).await;
        }
        ok
    }

    async fn write(&self, api: &ApiResource, namespace: Option<&str>, name: &str, rv: Option<&str>, current: Option<&Value>, desired: Value) -> bool {
        match status::write(&self.client, &self.metrics, api, namespace, name, rv, current, desired).await {
            Ok(_) => true,
            Err(error) => {
                self.metrics.error("status");
                tracing::warn!(kind = %api.kind, %name, %error, "status write failed; retrying on the next pass");
                self.stores.changed.notify_one();
                false
            }
        }
    }

    /// Programmed and addresses from the provider's last result for this Gateway, through the
    /// same condition constructors translation uses.
    fn merge_provider_result(&self, key: &ObjectRef, status: &mut GatewayStatus) {
        let Some((_, result, _)) = self.applied.get(key) else { return };
        if !status.conditions.iter().any(|c| c.condition_type == conditions::ACCEPTED && c.is_true()) {
            return;
        }
        let generation = status.conditions.first().map_or(1, |c| c.observed_generation);
        let programmed = match result {
            Ok(applied) => {
                status.addresses = applied.addresses.clone();
                let at = applied.addresses.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(", ");
                conditions::gateway_programmed(generation, format!("Programmed by HAProxy at {at}"))
            }
            Err(error) => conditions::gateway_not_programmed(generation, error.condition_reason(), error.to_string()),
        };
        status.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
        status.conditions.push(programmed);
        if result.is_ok() {
            for condition in status.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()) {
                if condition.condition_type == conditions::PROGRAMMED && condition.status == "Unknown" {
                    *condition = conditions::listener_programmed(condition.observed_generation);
                }
            }
        }
    }
}

/// Which HAProxy instance a Gateway belongs to (its parameters object), and that object's spec.
fn parameters_of(snapshot: &Snapshot, ir: &portico_model::ir::Gateway) -> (String, portico_haproxy::params::HAProxyParametersSpec) {
    let Some(reference) = &ir.parameters else { return ("default".into(), Default::default()) };
    let found = snapshot
        .parameters
        .iter()
        .find(|p| p.kind == reference.kind && p.name == reference.name && p.namespace == reference.namespace);
    let spec = found.and_then(|p| serde_json::from_value(p.spec.clone()).ok()).unwrap_or_default();
    (format!("{}/{}", reference.namespace.clone().unwrap_or_default(), reference.name), spec)
}

/// PEM bundles (certificate then key) for every Secret the IR's certificate bindings name.
fn certificates_for(snapshot: &Snapshot, ir: &portico_model::ir::Gateway) -> BTreeMap<ObjectRef, Vec<u8>> {
    let mut out = BTreeMap::new();
    for binding in ir.ports.iter().flat_map(|p| &p.certificates) {
        for secret_ref in &binding.secrets {
            let secret = snapshot.secrets.iter().find(|s| s.metadata.namespace.as_deref() == Some(&secret_ref.namespace) && s.metadata.name.as_deref() == Some(&secret_ref.name));
            let Some(data) = secret.and_then(|s| s.data.as_ref()) else { continue };
            let mut pem = data.get("tls.crt").map(|b| b.0.clone()).unwrap_or_default();
            if !pem.ends_with(b"\n") {
                pem.push(b'\n');
            }
            pem.extend(data.get("tls.key").map(|b| b.0.clone()).unwrap_or_default());
            out.insert(secret_ref.clone(), pem);
        }
    }
    out
}

fn current_addresses(snapshot: &Snapshot, key: &ObjectRef) -> Vec<portico_model::ir::Address> {
    let gateway = snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name));
    gateway
        .and_then(|g| g.status.as_ref())
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .map(|a| portico_model::ir::Address { address_type: a.r#type.clone().unwrap_or_else(|| "IPAddress".into()), value: a.value.clone() })
        .collect()
}

/// What a Gateway was programmed from (current addresses excluded: they follow from it). a change here means the provider must apply again.
fn fingerprint_of(desired: &Desired) -> Value {
    let certificates: BTreeMap<String, &Vec<u8>> = desired.certificates.iter().map(|(k, v)| (k.to_string(), v)).collect();
    Value::Array(vec![
        serde_json::to_value(&desired.ir).unwrap_or(Value::Null),
        serde_json::to_value(certificates).unwrap_or(Value::Null),
        desired.parameters.clone(),
    ])
}

fn sanitize(group: &str) -> String {
    group.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}
