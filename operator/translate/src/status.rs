//! The statuses translation computes, in the shape they are written to the API server.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use serde::Serialize;

use crate::conditions::Condition;

pub use portico_model::ir::RouteKey;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statuses {
    pub gateway_classes: BTreeMap<String, GatewayClassStatus>,
    pub gateways: BTreeMap<ObjectRef, GatewayStatus>,
    pub routes: BTreeMap<RouteKey, RouteStatus>,
    /// ListenerSets whose parent is a Gateway of ours.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub listener_sets: BTreeMap<ObjectRef, ListenerSetStatus>,
    /// BackendTLSPolicies that target Services routes of our Gateways use (or did).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub backend_tls_policies: BTreeMap<ObjectRef, crate::backend_tls::PolicyStatus>,
}

/// A ListenerSet's status: `Accepted` and `Programmed`, and its own listeners' statuses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSetStatus {
    pub conditions: Vec<Condition>,
    pub listeners: Vec<ListenerStatus>,
    /// The parent Gateway, whose programming decides `Programmed`.
    #[serde(skip)]
    pub gateway: ObjectRef,
    /// Whether the set is attached (its `Programmed` follows the Gateway's).
    #[serde(skip)]
    pub attached: bool,
    /// The conditions the object shows now (`lastTransitionTime` is kept where status holds),
    /// its own and its listeners' by name.
    #[serde(skip)]
    pub previous: Vec<Condition>,
    #[serde(skip)]
    pub previous_listeners: BTreeMap<String, Vec<Condition>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassStatus {
    pub conditions: Vec<Condition>,
    pub supported_features: Vec<SupportedFeature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupportedFeature {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// Filled in by the provider once it has applied the Gateway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<portico_model::ir::Address>,
    pub conditions: Vec<Condition>,
    pub listeners: Vec<ListenerStatus>,
    /// How many ListenerSets are attached: shown once the Gateway allows ListenerSets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_listener_sets: Option<i32>,
}

impl GatewayStatus {
    /// Listeners waiting for the provider are not going to be programmed after all (the
    /// Gateway itself is not programmed): `Programmed=False/Invalid` with `why`.
    pub fn listeners_not_programmed(&mut self, why: &str) {
        for condition in self.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()) {
            if condition.condition_type == crate::conditions::PROGRAMMED && condition.status == "Unknown" {
                *condition = crate::conditions::listener_invalid(condition.observed_generation, why);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    pub name: String,
    pub supported_kinds: Vec<RouteGroupKind>,
    pub attached_routes: i32,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteGroupKind {
    pub group: String,
    pub kind: String,
}

/// `status.parents` of a route: entries written by other controllers are kept as they were,
/// ours are recomputed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteStatus {
    pub parents: Vec<ParentStatusEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParentStatusEntry {
    Ours(RouteParentStatus),
    Kept(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    pub parent_ref: ParentRefStatus,
    pub controller_name: String,
    pub conditions: Vec<Condition>,
}

/// The parentRef as written back: group, kind and namespace always filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRefStatus {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}
