//! The reconciler's writes to the API server: finalizers, Events and statuses.

use futures_util::FutureExt as _;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use portico_model::Snapshot;
use portico_model::ir::ObjectRef;
use portico_model::snapshot::RouteHead;
use portico_provider::{BoxFuture, ProviderError};
use portico_translate::Translation;
use portico_translate::status::RouteStatus;
use serde_json::{Value, json};

use super::reconcile::Reconciler;
use super::status;

pub const GATEWAY_FINALIZER: &str = "portico.dev/cleanup";
pub const CLASS_FINALIZER: &str = "gateway-exists-finalizer.gateway.networking.k8s.io";

fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource { group: group.into(), version: "v1".into(), api_version: format!("{group}/v1"), kind: kind.into(), plural: plural.into() }
}

impl Reconciler {
    /// Add our finalizer to owned Gateways; for Gateways being deleted, return them so the
    /// provider removes their resources before the finalizer goes.
    pub(super) async fn finalize(&mut self, snapshot: &Snapshot, translation: &Translation) -> Vec<ObjectRef> {
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

    pub(super) async fn remove_finalizer(&self, snapshot: &Snapshot, key: &ObjectRef) {
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

    /// A Warning Event on the Gateway (`kubectl describe gateway` shows it).
    pub(super) async fn event(&self, key: &ObjectRef, error: &ProviderError) {
        self.publish(key, EventType::Warning, "ProgrammingFailed", error.to_string()).await;
    }

    /// A Normal Event: the Gateway's load balancer is programmed and serving.
    pub(super) async fn programmed_event(&self, key: &ObjectRef, provider: &str, addresses: &[portico_model::ir::Address]) {
        let listed: Vec<&str> = addresses.iter().map(|a| a.value.as_str()).collect();
        let note = format!("programmed on {provider}; addresses: {}", if listed.is_empty() { "none yet".into() } else { listed.join(", ") });
        self.publish(key, EventType::Normal, "Programmed", note).await;
    }

    /// Through kube's recorder, regarding the Gateway by uid.
    async fn publish(&self, key: &ObjectRef, type_: EventType, reason: &str, note: String) {
        use kube::Resource as _;
        let Some(gateway) = self.stores.gateways.get(&key.namespace, &key.name) else { return };
        self.record(&gateway.object_ref(&()), type_, reason, note).await;
    }

    /// One Event; a failure to record is logged and counted, never fatal.
    async fn record(&self, reference: &ObjectReference, type_: EventType, reason: &str, note: String) {
        // An Event's note is at most 1 kB.
        let note: String = note.chars().take(1000).collect();
        let event = Event { type_, reason: reason.into(), note: Some(note), action: "Program".into(), secondary: None };
        if let Err(error) = self.recorder.publish(&event, reference).await {
            self.metrics.error("event");
            tracing::warn!(name = ?reference.name, %error, "could not record an Event");
        }
    }

    /// Write every status that changed: at most [`WRITES_IN_FLIGHT`] writes at a time (the API
    /// server answers each in a few milliseconds; one after another, 5,000 new routes took 14 s),
    /// never more than one per object per pass.
    pub(super) async fn write_statuses(&self, snapshot: &Snapshot, translation: &Translation, deleting: &[ObjectRef]) -> bool {
        let now = crate::plan::now_rfc3339();
        let now = now.as_str();
        let mut ok = true;
        let classes = resource("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses");
        for class in &snapshot.gateway_classes {
            let name = class.metadata.name.clone().unwrap_or_default();
            let Some(desired) = translation.statuses.gateway_classes.get(&name) else { continue };
            let desired = crate::plan::stamp(serde_json::to_value(desired).unwrap_or_default(), now);
            let current = class.status.as_ref().and_then(|s| serde_json::to_value(s).ok());
            // Portico is the only writer of an owned class's status: no resourceVersion guard, so a
            // finalizer update earlier in the pass does not turn into a conflict.
            ok &= self.write(&classes, None, &name, None, current.as_ref(), desired).await;
        }
        let gateways = resource("gateway.networking.k8s.io", "Gateway", "gateways");
        let gateway_writes = snapshot.gateways.iter().map(|gw| {
            let key = object_key(&gw.metadata);
            let computed = translation.statuses.gateways.get(&key).filter(|_| !deleting.contains(&key));
            self.write_computed(&gateways, &gw.metadata, gw.status.as_ref(), computed, false, now).boxed()
        });
        ok &= all_succeed(gateway_writes.collect()).await;
        let sets = resource("gateway.networking.k8s.io", "ListenerSet", "listenersets");
        let set_writes = snapshot.listener_sets.iter().map(|set| {
            let computed = translation.statuses.listener_sets.get(&object_key(&set.metadata));
            self.write_computed(&sets, &set.metadata, set.status.as_ref(), computed, false, now).boxed()
        });
        ok &= all_succeed(set_writes.collect()).await;
        // Other controllers write their own ancestors: guarded by the resourceVersion.
        let policies = resource("gateway.networking.k8s.io", "BackendTLSPolicy", "backendtlspolicies");
        let policy_writes = snapshot.backend_tls_policies.iter().map(|policy| {
            let computed = translation.statuses.backend_tls_policies.get(&object_key(&policy.metadata));
            self.write_computed(&policies, &policy.metadata, policy.status.as_ref(), computed, true, now).boxed()
        });
        ok &= all_succeed(policy_writes.collect()).await;
        let heads = snapshot.route_heads();
        if let Ok(mut confirmed) = self.confirmed_routes.lock() {
            confirmed.retain(|key, _| translation.statuses.routes.contains_key(key));
        }
        let route_writes = heads.iter().filter_map(|route| Some(self.write_route_status(route, translation.statuses.routes.get(&route.key)?, now).boxed()));
        ok & all_succeed(route_writes.collect()).await
    }

    /// One route's status, and a Warning Event for each of its conditions that turned False.
    /// A route whose computed status and resourceVersion are those last confirmed is skipped
    /// without serializing anything.
    async fn write_route_status(&self, route: &RouteHead<'_>, computed: &RouteStatus, now: &str) -> bool {
        let rv = route.metadata.resource_version.as_deref().unwrap_or_default();
        if self.confirmed_routes.lock().is_ok_and(|c| c.get(&route.key).is_some_and(|(v, s)| v == rv && s == computed)) {
            return true;
        }
        let kind = route.key.kind;
        let api = resource(portico_model::GATEWAY_GROUP, kind.name(), &kind.plural());
        let desired = crate::plan::route_status_json(computed, now);
        let current = route.status();
        if status::same_status(current.as_ref(), &desired) {
            if let Ok(mut confirmed) = self.confirmed_routes.lock() {
                confirmed.insert(route.key.clone(), (rv.to_string(), computed.clone()));
            }
            return true;
        }
        let failures = new_failures(current.as_ref(), &desired);
        let written = self.write(&api, Some(&route.key.namespace), &route.key.name, Some(rv).filter(|v| !v.is_empty()), current.as_ref(), desired).await;
        if written && !failures.is_empty() {
            let reference = ObjectReference {
                api_version: Some(format!("{}/v1", portico_model::GATEWAY_GROUP)),
                kind: Some(kind.name().into()),
                namespace: Some(route.key.namespace.clone()),
                name: Some(route.key.name.clone()),
                uid: route.metadata.uid.clone(),
                ..Default::default()
            };
            for (reason, note) in failures {
                self.record(&reference, EventType::Warning, &reason, note).await;
            }
        }
        written
    }

    /// Write a namespaced object's computed status, if translation computed one; `guarded`: only
    /// over the resourceVersion it was read at.
    async fn write_computed<C: serde::Serialize, S: serde::Serialize>(
        &self,
        api: &ApiResource,
        meta: &ObjectMeta,
        current: Option<&S>,
        computed: Option<&C>,
        guarded: bool,
        now: &str,
    ) -> bool {
        let Some(computed) = computed else { return true };
        let key = object_key(meta);
        let desired = crate::plan::stamp(serde_json::to_value(computed).unwrap_or_default(), now);
        let current = current.and_then(|s| serde_json::to_value(s).ok());
        let rv = meta.resource_version.as_deref().filter(|_| guarded);
        self.write(api, Some(&key.namespace), &key.name, rv, current.as_ref(), desired).await
    }

    async fn write(&self, api: &ApiResource, namespace: Option<&str>, name: &str, rv: Option<&str>, current: Option<&Value>, desired: Value) -> bool {
        match status::write(&self.client, &self.metrics, &self.stores.changed, api, namespace, name, rv, current, desired).await {
            Ok(_) => true,
            Err(error) => {
                self.metrics.error("status");
                tracing::warn!(kind = %api.kind, %name, %error, "status write failed; retrying on the next pass");
                self.stores.changed.notify_one();
                false
            }
        }
    }
}

/// Status writes in flight at once.
const WRITES_IN_FLIGHT: usize = 32;

/// Run `writes` with at most [`WRITES_IN_FLIGHT`] at a time; true when every one succeeded.
async fn all_succeed(writes: Vec<BoxFuture<'_, bool>>) -> bool {
    portico_provider::calls::bounded(writes, WRITES_IN_FLIGHT).await.into_iter().all(|written| written)
}

fn object_key(meta: &ObjectMeta) -> ObjectRef {
    ObjectRef::new(meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// The route conditions that turn False with this write (per parent, by type and reason): each
/// becomes a Warning Event on the route, once, not on every pass.
fn new_failures(current: Option<&Value>, desired: &Value) -> Vec<(String, String)> {
    let parents = |status: Option<&Value>| status.and_then(|s| s["parents"].as_array().cloned()).unwrap_or_default();
    let before = parents(current);
    let mut out = Vec::new();
    for parent in parents(Some(desired)) {
        let earlier = before.iter().find(|p| p["parentRef"] == parent["parentRef"] && p["controllerName"] == parent["controllerName"]);
        for condition in parent["conditions"].as_array().into_iter().flatten().filter(|c| c["status"] == "False") {
            let known = earlier
                .and_then(|p| p["conditions"].as_array())
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == condition["type"] && c["status"] == "False" && c["reason"] == condition["reason"]));
            if !known {
                let gateway = parent["parentRef"]["name"].as_str().unwrap_or("?");
                let reason = condition["reason"].as_str().unwrap_or("Invalid").to_string();
                out.push((reason, format!("parent {gateway}: {}", condition["message"].as_str().unwrap_or(""))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn only_conditions_turning_false_become_events() {
        let parent = |status: &str, reason: &str| {
            json!({"parents": [{"parentRef": {"name": "gw"}, "controllerName": "portico.dev/haproxy",
                "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}, {"type": "ResolvedRefs", "status": status, "reason": reason, "message": "backend web not found"}]}]})
        };
        let failing = parent("False", "BackendNotFound");
        assert_eq!(super::new_failures(None, &failing), [("BackendNotFound".to_string(), "parent gw: backend web not found".to_string())]);
        assert!(super::new_failures(Some(&failing), &failing).is_empty(), "an unchanged failure is not repeated");
        assert_eq!(super::new_failures(Some(&parent("True", "ResolvedRefs")), &failing).len(), 1);
        assert_eq!(super::new_failures(Some(&failing), &parent("False", "RefNotPermitted")).len(), 1, "a new reason is a new event");
        assert!(super::new_failures(Some(&failing), &parent("True", "ResolvedRefs")).is_empty());
    }
}
