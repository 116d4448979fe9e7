//! One reconcile of the whole snapshot: finalizers, provider programming, status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use portico_model::ir::ObjectRef;
use portico_model::{ProviderKind, Snapshot};
use portico_provider::{Applied, Desired, Provider, ProviderError};
use portico_translate::status::GatewayStatus;
use portico_translate::{CapabilitySet, Translation, conditions, translate};
use serde_json::{Value, json};

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
    /// The AWS provider, when this replica programs `portico.dev/aws` classes.
    pub aws: Option<portico_aws::AwsProvider>,
    /// The GCP provider, when this replica programs `portico.dev/gcp` classes.
    pub gcp: Option<portico_gcp::GcpProvider>,
    /// What each Gateway was last programmed with, and the outcome.
    applied: BTreeMap<ObjectRef, (Value, Result<Applied, ProviderError>, String)>,
    /// The Gateways (with their fingerprints and group) being programmed right now: blamed if
    /// the pass panics.
    in_flight: std::sync::Mutex<Vec<(ObjectRef, Value, String)>>,
    /// Gateways whose programming panicked: skipped until their desired state changes.
    quarantined: BTreeMap<ObjectRef, Value>,
}

impl Reconciler {
    pub fn new(client: Client, stores: Stores, metrics: Arc<Metrics>, providers: &[ProviderKind], state_dir: PathBuf) -> Self {
        let all = crate::all_capabilities();
        let capabilities = CapabilitySet::new(providers.iter().filter_map(|p| all.get(*p).cloned()));
        Reconciler {
            client,
            stores,
            metrics,
            capabilities,
            state_dir,
            haproxy: BTreeMap::new(),
            aws: None,
            gcp: None,
            applied: BTreeMap::new(),
            in_flight: Default::default(),
            quarantined: BTreeMap::new(),
        }
    }

    /// One pass; returns true when something failed and should be retried (with backoff).
    pub async fn reconcile(&mut self, force: bool) -> bool {
        let started = Instant::now();
        self.set_in_flight(Vec::new());
        let snapshot = self.stores.snapshot();
        let mut translation = translate(&snapshot, &self.capabilities);
        crate::desired::refuse_haproxy_addresses(&snapshot, &mut translation);
        let mut aws_desired = match &self.aws {
            Some(aws) => crate::desired::aws_gateways(&snapshot, &mut translation, aws.cluster()),
            None => BTreeMap::new(),
        };
        let mut gcp_desired = match &self.gcp {
            Some(gcp) => crate::desired::gcp_gateways(&snapshot, &mut translation, gcp.defaults()),
            None => BTreeMap::new(),
        };
        self.skip_quarantined(&mut aws_desired);
        self.skip_quarantined(&mut gcp_desired);
        let deleting = self.finalize(&snapshot, &translation).await;
        self.program(&snapshot, &translation, &deleting, force).await;
        if let Some(aws) = &self.aws {
            let outcome = program_cloud(aws, ProviderKind::Aws, &snapshot, &aws_desired, &deleting, &self.applied, force, &self.in_flight).await;
            self.record_cloud(&snapshot, "aws", outcome).await;
        }
        if let Some(gcp) = &self.gcp {
            let outcome = program_cloud(gcp, ProviderKind::Gcp, &snapshot, &gcp_desired, &deleting, &self.applied, force, &self.in_flight).await;
            self.record_cloud(&snapshot, "gcp", outcome).await;
        }
        // Routes the provider left out (HAProxy rejected them) are not accepted on that Gateway.
        for (key, (_, result, _)) in &self.applied {
            if let Ok(applied) = result {
                crate::desired::reject_overflows(&mut translation.statuses, key, "HAProxy", &applied.rejected_routes);
            }
        }
        let ok = self.write_statuses(&snapshot, &translation, &deleting).await;
        self.metrics.reconciled(ok, started.elapsed().as_secs_f64());
        // Failures and load balancers still provisioning are looked at again soon.
        let provider_pending = self.applied.values().any(|(_, result, _)| !result.as_ref().is_ok_and(|a| a.ready));
        !ok || provider_pending
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
            let (group, spec) = crate::desired::parameters_of(snapshot, ir);
            let spec: portico_haproxy::params::HAProxyParametersSpec = serde_json::from_value(spec).unwrap_or_default();
            let mut desired = crate::desired::desired_for(snapshot, key, ir, &BTreeMap::new());
            desired.parameters = serde_json::to_value(&spec).unwrap_or_default();
            groups.entry(group).or_insert_with(|| (spec, BTreeMap::new())).1.insert(key.clone(), desired);
        }
        let previously: Vec<String> = self.haproxy.keys().cloned().collect();
        for group in previously {
            groups.entry(group).or_insert_with(|| (Default::default(), BTreeMap::new()));
        }
        for (group, (spec, desired)) in groups {
            let mut desired = desired;
            self.skip_quarantined(&mut desired);
            let fingerprint: BTreeMap<&ObjectRef, Value> = desired.iter().map(|(k, d)| (k, fingerprint_of(d))).collect();
            let changed = desired.iter().any(|(k, _)| self.applied.get(k).is_none_or(|(f, r, _)| Some(f) != fingerprint.get(k) || r.is_err()))
                || self.applied.iter().any(|(k, (_, _, g))| *g == group && !desired.contains_key(k));
            if !changed && !force {
                continue;
            }
            let span = tracing::info_span!("program", provider = "haproxy", instance = %group, gateways = ?desired.keys().map(ToString::to_string).collect::<Vec<_>>());
            let _entered = span.enter();
            let instance = self
                .haproxy
                .entry(group.clone())
                .or_insert_with(|| portico_haproxy::runtime::Instance::new(spec.clone(), &self.state_dir.join(sanitize(&group))));
            self.metrics.provider_call("haproxy", "apply");
            let reserved = self.applied.iter().filter(|(_, (_, _, g))| *g != group).filter_map(|(_, (_, r, _))| r.as_ref().ok());
            instance.reserve(reserved.flat_map(|a| a.addresses.iter().filter_map(|x| x.value.parse().ok())).collect());
            let in_flight = desired.iter().map(|(k, d)| (k.clone(), fingerprint_of(d), group.clone())).collect();
            if let Ok(mut slot) = self.in_flight.lock() {
                *slot = in_flight;
            }
            let results = instance.sync(&desired).await;
            if let Ok(mut slot) = self.in_flight.lock() {
                slot.clear();
            }
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
        for key in deleting.iter().filter(|k| !matches!(provider_of(snapshot, k), Some(ProviderKind::Aws | ProviderKind::Gcp))) {
            self.remove_finalizer(snapshot, key).await;
        }
    }

    fn set_in_flight(&self, gateways: Vec<(ObjectRef, Value, String)>) {
        if let Ok(mut slot) = self.in_flight.lock() {
            *slot = gateways;
        }
    }

    /// Leave out Gateways whose programming panicked, until their desired state changes.
    fn skip_quarantined(&mut self, desired: &mut BTreeMap<ObjectRef, Desired>) {
        self.quarantined.retain(|k, f| desired.get(k).is_none_or(|d| fingerprint_of(d) == *f));
        desired.retain(|k, _| !self.quarantined.contains_key(k));
    }

    /// A pass panicked: blame the Gateways being programmed (Programmed=False, a Warning Event,
    /// skipped until they change) and keep serving the others.
    pub async fn contain_panic(&mut self, message: &str) {
        self.metrics.error("panic");
        let blamed = self.in_flight.lock().map(|mut slot| std::mem::take(&mut *slot)).unwrap_or_default();
        tracing::error!(panic = %message, gateways = ?blamed.iter().map(|(k, _, _)| k.to_string()).collect::<Vec<_>>(), "a reconcile pass panicked; the operator keeps running");
        for (key, fingerprint, group) in blamed {
            let error = ProviderError::Rejected {
                platform: "Portico".into(),
                operation: "program".into(),
                message: format!("internal error while programming this Gateway ({message}); it is skipped until it changes"),
            };
            self.event(&key, &error).await;
            self.quarantined.insert(key.clone(), fingerprint.clone());
            self.applied.insert(key, (fingerprint, Err(error), group));
        }
        self.stores.changed.notify_one();
    }

    /// Record what a cloud provider did: events for failures, the outcome for status, and the
    /// finalizer released for Gateways whose resources are gone.
    async fn record_cloud(&mut self, snapshot: &Snapshot, group: &str, outcome: CloudOutcome) {
        for (key, fingerprint, result) in outcome.results {
            if let Err(error) = &result {
                self.metrics.error("provider");
                tracing::warn!(gateway = %key, %error, retryable = error.retryable(), provider = group, "programming failed");
                self.event(&key, error).await;
            }
            self.applied.insert(key, (fingerprint, result, group.into()));
        }
        for key in outcome.removed {
            self.applied.remove(&key);
            self.remove_finalizer(snapshot, &key).await;
        }
    }

    async fn remove_finalizer(&self, snapshot: &Snapshot, key: &ObjectRef) {
        let Some(gw) =
            snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name))
        else {
            return;
        };
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
            // A Gateway translation keeps from the provider (e.g. its address is refused) shows
            // translation's Programmed, not a provider result from before.
            if translation.gateways.contains_key(&key) {
                let reported = crate::desired::current_addresses(snapshot, &key);
                self.merge_provider_result(&key, &mut computed, reported);
            }
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
        routes.extend(
            snapshot
                .http_routes
                .iter()
                .map(|r| (resource(g, "HTTPRoute", "httproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Http)),
        );
        routes.extend(
            snapshot
                .grpc_routes
                .iter()
                .map(|r| (resource(g, "GRPCRoute", "grpcroutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Grpc)),
        );
        routes.extend(
            snapshot
                .tls_routes
                .iter()
                .map(|r| (resource(g, "TLSRoute", "tlsroutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Tls)),
        );
        routes.extend(
            snapshot
                .tcp_routes
                .iter()
                .map(|r| (resource(g, "TCPRoute", "tcproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Tcp)),
        );
        routes.extend(
            snapshot
                .udp_routes
                .iter()
                .map(|r| (resource(g, "UDPRoute", "udproutes"), &r.metadata, r.status.as_ref().and_then(|s| serde_json::to_value(s).ok()), K::Udp)),
        );
        for (api, meta, current, kind) in routes {
            let key = portico_translate::status::RouteKey {
                kind,
                namespace: meta.namespace.clone().unwrap_or_default(),
                name: meta.name.clone().unwrap_or_default(),
            };
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
    /// `reported`: the addresses the Gateway's status shows now. A failed apply leaves the last
    /// good configuration serving, so they stay reported (and held: another Gateway cannot take
    /// an address because its holder's latest change failed), unless the address itself is what
    /// failed.
    fn merge_provider_result(&self, key: &ObjectRef, status: &mut GatewayStatus, reported: Vec<portico_model::ir::Address>) {
        let Some((_, result, _)) = self.applied.get(key) else { return };
        if !status.conditions.iter().any(|c| c.condition_type == conditions::ACCEPTED && c.is_true()) {
            return;
        }
        let generation = status.conditions.first().map_or(1, |c| c.observed_generation);
        let programmed = match result {
            Ok(applied) => {
                status.addresses = applied.addresses.clone();
                let at = applied.addresses.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(", ");
                if applied.ready {
                    conditions::gateway_programmed(generation, format!("Programmed at {at}"))
                } else {
                    conditions::gateway_not_programmed(generation, conditions::reason::PENDING, format!("the load balancer at {at} is still provisioning"))
                }
            }
            Err(error) => {
                if !matches!(error, ProviderError::AddressNotUsable { .. }) {
                    status.addresses = reported;
                }
                conditions::gateway_not_programmed(generation, error.condition_reason(), error.to_string())
            }
        };
        status.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
        status.conditions.push(programmed);
        if result.as_ref().is_ok_and(|a| a.ready) {
            for condition in status.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()) {
                if condition.condition_type == conditions::PROGRAMMED && condition.status == "Unknown" {
                    *condition = conditions::listener_programmed(condition.observed_generation);
                }
            }
        }
    }
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

/// The provider of a Gateway's class.
fn provider_of(snapshot: &Snapshot, key: &ObjectRef) -> Option<ProviderKind> {
    let gateway =
        snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name))?;
    let class = snapshot.gateway_classes.iter().find(|c| c.metadata.name.as_deref() == Some(gateway.spec.gateway_class_name.as_str()))?;
    ProviderKind::from_controller_name(&class.spec.controller_name)
}

fn sanitize(group: &str) -> String {
    group.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// What one pass of a cloud provider did.
struct CloudOutcome {
    results: Vec<(ObjectRef, Value, Result<Applied, ProviderError>)>,
    removed: Vec<ObjectRef>,
}

/// Cloud Gateways one by one: observe, plan, apply when the desired state changed (or on a
/// drift tick, or while the load balancer is still provisioning); deleted Gateways are
/// reported removed only once everything Portico owned for them is gone.
#[allow(clippy::too_many_arguments)]
async fn program_cloud<P: Provider>(
    provider: &P,
    kind: ProviderKind,
    snapshot: &Snapshot,
    desired: &BTreeMap<ObjectRef, Desired>,
    deleting: &[ObjectRef],
    applied: &BTreeMap<ObjectRef, (Value, Result<Applied, ProviderError>, String)>,
    force: bool,
    in_flight: &std::sync::Mutex<Vec<(ObjectRef, Value, String)>>,
) -> CloudOutcome {
    let mut outcome = CloudOutcome { results: Vec::new(), removed: Vec::new() };
    desired.values().for_each(|gateway| provider.prepare(gateway));
    for (key, gateway) in desired.iter().filter(|(k, _)| !deleting.contains(k)) {
        let fingerprint = fingerprint_of(gateway);
        let settled = applied.get(key).is_some_and(|(f, r, _)| *f == fingerprint && r.as_ref().is_ok_and(|a| a.ready));
        if settled && !force {
            continue;
        }
        if let Ok(mut slot) = in_flight.lock() {
            *slot = vec![(key.clone(), fingerprint.clone(), kind.name().to_string())];
        }
        let result = match provider.observe(key).await {
            Ok(observed) => {
                let plan = provider.plan(Some(gateway), &observed);
                if !provider.plan_is_empty(&plan) {
                    tracing::info!(gateway = %key, provider = kind.name(), "applying load balancer changes");
                }
                provider.apply(&plan).await
            }
            Err(error) => Err(error),
        };
        outcome.results.push((key.clone(), fingerprint, result));
    }
    for key in deleting.iter().filter(|k| provider_of(snapshot, k) == Some(kind)) {
        match provider.delete(key).await {
            Ok(()) => outcome.removed.push(key.clone()),
            Err(error) => outcome.results.push((key.clone(), Value::Null, Err(error))),
        }
    }
    outcome
}
