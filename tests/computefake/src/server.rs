//! The HTTP side: one handler behind every path, which counts the call, fires injected
//! faults, and serves it from the shared state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::errors::{ApiError, json_response};
use crate::faults::FaultQueue;
use crate::ops::Operations;
use crate::reads;
use crate::routes::{Call, parse_call};
use crate::store::Store;
use crate::writes;

/// Everything the fake knows, behind one lock.
#[derive(Debug)]
pub struct FakeState {
    pub store: Store,
    pub operations: Operations,
    pub faults: FaultQueue,
    pub calls: BTreeMap<String, u64>,
    pub mutating_calls: u64,
}

/// What the server task and every handle share.
#[derive(Debug)]
pub struct Shared {
    pub endpoint: String,
    state: Mutex<FakeState>,
}

impl Shared {
    pub fn new(endpoint: &str) -> Shared {
        let state = FakeState {
            store: Store::new(endpoint),
            operations: Operations::default(),
            faults: FaultQueue::default(),
            calls: BTreeMap::new(),
            mutating_calls: 0,
        };
        Shared { endpoint: endpoint.to_string(), state: Mutex::new(state) }
    }

    /// The state; a panic in another holder does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The one handler behind every path.
pub async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    match serve(&shared, &method, uri.path(), &query, &body) {
        Ok(value) => json_response(200, &value),
        Err(error) => error.into_response(),
    }
}

fn serve(shared: &Shared, method: &Method, path: &str, query: &HashMap<String, String>, body: &[u8]) -> Result<Value, ApiError> {
    let call = parse_call(method, path)?;
    let api_name = call.api_name();
    let mut state = shared.lock();
    *state.calls.entry(api_name.clone()).or_default() += 1;
    if call.is_mutating() {
        state.mutating_calls += 1;
    }
    if let Some(fault) = state.faults.take_status(&api_name) {
        let message = format!("Injected fault for {api_name}: HTTP {} {}.", fault.status, fault.reason);
        return Err(ApiError::Injected { status: fault.status, reason: fault.reason, message });
    }
    if call.is_operations() {
        return serve_operations(&mut state, &shared.endpoint, &call, query);
    }
    match call.method.as_str() {
        "get" => reads::get(&state.store, &call),
        "list" => reads::list(&state.store, &call, query),
        "aggregatedList" => reads::aggregated_list(&state.store, &call, query),
        "listNetworkEndpoints" if call.collection == "networkEndpointGroups" => reads::list_network_endpoints(&state.store, &call, query),
        _ => mutate(&mut state, &call, query, body),
    }
}

fn serve_operations(state: &mut FakeState, endpoint: &str, call: &Call, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let name = call.name.as_deref().unwrap_or_default();
    let found = match call.method.as_str() {
        "list" => return reads::list_operations(&state.operations, endpoint, call, query),
        "wait" => state.operations.wait(&call.project, &call.location, name),
        _ => state.operations.poll(&call.project, &call.location, name),
    };
    found.ok_or_else(|| ApiError::NotFound(format!("The resource 'projects/{}/{}/operations/{name}' was not found", call.project, call.location)))
}

/// Insert, update, patch, delete and custom verbs: replay a known request id, else plan the
/// change, apply it unless an operation error is injected, and return the operation.
fn mutate(state: &mut FakeState, call: &Call, query: &HashMap<String, String>, body: &[u8]) -> Result<Value, ApiError> {
    let request_id = query.get("requestId").map(String::as_str).filter(|id| !id.is_empty());
    if let Some(operation) = request_id.and_then(|id| state.operations.replay(&call.project, id)) {
        return Ok(operation);
    }
    let body = parse_body(body)?;
    let plan = writes::plan(&mut state.store, call, body)?;
    let failure = state.faults.take_operation_error(&call.api_name());
    if failure.is_none() {
        writes::apply(&mut state.store, &plan);
    }
    let base = state.store.base.clone();
    Ok(state.operations.record(&base, &plan.target, failure, request_id))
}

/// A JSON body; none at all counts as `{}`.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|error| ApiError::Invalid(format!("Invalid JSON payload received. {error}")))
}
