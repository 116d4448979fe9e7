//! `portico plan`: load objects from files, translate them exactly as the operator does, and
//! print every owned object with its computed status plus each Gateway's IR. The document
//! itself is pure and lives in translation ([`portico_translate::document`]); this adds the
//! registry and the clock.

use portico_model::load::Loaded;
pub use portico_translate::document::{ObjectDetail, PLAN_CLUSTER, PlanDocument, route_status_json, stamp};

use crate::Registry;

/// [`portico_translate::document::document`] for the registered platforms.
pub fn document(loaded: &Loaded, registry: &Registry, now: &str, detail: ObjectDetail) -> PlanDocument {
    portico_translate::document::document(loaded, &registry.planners(PLAN_CLUSTER), now, detail)
}

/// The current UTC time as RFC 3339 with seconds precision, as Kubernetes writes condition times.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
