//! Operations: what every mutating call returns. The change is applied when the call arrives;
//! the operation may still report `PENDING`/`RUNNING` for a configured number of polls, and
//! may carry an injected error (in which case the change was not applied).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::faults::OperationFault;
use crate::store::{Key, location_link};
use crate::time::{now_unix, rfc3339};

/// What an operation is about.
#[derive(Debug, Clone)]
pub struct OperationTarget {
    pub key: Key,
    pub operation_type: String,
    pub target_id: Option<String>,
}

#[derive(Debug)]
struct Record {
    finished: Value,
    polls_left: u32,
    /// Unfinished until then (wall clock), however often it is polled.
    done_at: Option<std::time::Instant>,
}

impl Record {
    fn unfinished(&self) -> bool {
        self.polls_left > 0 || self.done_at.is_some_and(|at| std::time::Instant::now() < at)
    }
}

/// (project, location, operation name).
type OperationKey = (String, String, String);

/// Every operation created so far.
#[derive(Debug, Default)]
pub struct Operations {
    records: BTreeMap<OperationKey, Record>,
    by_request_id: HashMap<(String, String), OperationKey>,
    created: u64,
    pending_polls: u32,
    pending_every: u32,
    /// How long every operation takes (wall clock), like GCP's 1-2 s per change.
    duration: Option<std::time::Duration>,
    random: RandomState,
}

impl Operations {
    /// Every `every`-th operation (1: all of them) reports RUNNING for `polls` polls.
    pub fn set_pending(&mut self, polls: u32, every: u32) {
        self.pending_polls = polls;
        self.pending_every = every;
    }

    /// Every operation created from now on stays RUNNING for `duration` of wall-clock time
    /// (`None`: done when its polls are used up).
    pub fn set_duration(&mut self, duration: Option<std::time::Duration>) {
        self.duration = duration;
    }

    /// The operation an earlier call with this request id created, as it stands now.
    pub fn replay(&self, project: &str, request_id: &str) -> Option<Value> {
        let key = self.by_request_id.get(&(project.to_string(), request_id.to_string()))?;
        self.records.get(key).map(|record| view(record, "RUNNING"))
    }

    /// Create an operation and return it as first reported.
    pub fn record(&mut self, base: &str, target: &OperationTarget, failure: Option<OperationFault>, request_id: Option<&str>) -> Value {
        self.created += 1;
        let number = self.created;
        let name = format!("operation-{number}-{:012x}", self.random.hash_one(number) & 0xffff_ffff_ffff);
        let (project, location) = (&target.key.project, &target.key.location);
        let mut finished = finished_operation(base, target, number, &name);
        if let Some(failure) = failure {
            attach_error(&mut finished, &failure);
        }
        let pending = self.pending_every > 0 && number.is_multiple_of(u64::from(self.pending_every));
        let done_at = self.duration.map(|d| std::time::Instant::now() + d);
        let record = Record { finished, polls_left: if pending { self.pending_polls } else { 0 }, done_at };
        let first_view = view(&record, "PENDING");
        let key = (project.clone(), location.clone(), name);
        if let Some(request_id) = request_id {
            self.by_request_id.insert((project.clone(), request_id.to_string()), key.clone());
        }
        self.records.insert(key, record);
        first_view
    }

    /// One `GET .../operations/{name}`: RUNNING while polls are left, then the final state.
    pub fn poll(&mut self, project: &str, location: &str, name: &str) -> Option<Value> {
        let record = self.records.get_mut(&(project.to_string(), location.to_string(), name.to_string()))?;
        let current = view(record, "RUNNING");
        record.polls_left = record.polls_left.saturating_sub(1);
        Some(current)
    }

    /// `POST .../operations/{name}/wait`: the final state at once, unless the operation takes
    /// wall-clock time (then as it stands: GCP's wait may also return before DONE).
    pub fn wait(&mut self, project: &str, location: &str, name: &str) -> Option<Value> {
        let record = self.records.get_mut(&(project.to_string(), location.to_string(), name.to_string()))?;
        record.polls_left = 0;
        Some(view(record, "RUNNING"))
    }

    /// The operations of one location, in name order, as they stand.
    pub fn in_location(&self, project: &str, location: &str) -> Vec<Value> {
        self.records
            .iter()
            .filter(|((op_project, op_location, _), _)| op_project == project && op_location == location)
            .map(|(_, record)| view(record, "RUNNING"))
            .collect()
    }
}

fn finished_operation(base: &str, target: &OperationTarget, number: u64, name: &str) -> Value {
    let (project, location) = (&target.key.project, &target.key.location);
    let location_url = location_link(base, project, location);
    let now = rfc3339(now_unix());
    let mut operation = json!({
        "kind": "compute#operation",
        "id": (5_000_000_000_000_000_000u64 + number).to_string(),
        "name": name,
        "operationType": target.operation_type,
        "targetLink": target.key.self_link(base),
        "status": "DONE",
        "progress": 100,
        "insertTime": now,
        "startTime": now,
        "endTime": now,
        "selfLink": format!("{location_url}/operations/{name}"),
        "user": "fake@portico.dev",
    });
    if let Some(target_id) = &target.target_id {
        operation["targetId"] = json!(target_id);
    }
    if location.starts_with("regions/") {
        operation["region"] = json!(location_url);
    } else if location.starts_with("zones/") {
        operation["zone"] = json!(location_url);
    }
    operation
}

fn attach_error(operation: &mut Value, failure: &OperationFault) {
    let status = http_status_for(&failure.code);
    let reason = StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()).unwrap_or("ERROR");
    operation["error"] = json!({"errors": [{"code": failure.code, "message": failure.message}]});
    operation["httpErrorStatusCode"] = json!(status);
    operation["httpErrorMessage"] = json!(reason.to_uppercase());
}

/// The HTTP status GCP reports beside an operation error code.
fn http_status_for(code: &str) -> u16 {
    match code {
        "RESOURCE_NOT_FOUND" | "NOT_FOUND" => 404,
        "ALREADY_EXISTS" | "RESOURCE_ALREADY_EXISTS" => 409,
        "CONDITION_NOT_MET" => 412,
        "QUOTA_EXCEEDED" | "PERMISSION_DENIED" | "FORBIDDEN" => 403,
        "RATE_LIMIT_EXCEEDED" => 429,
        "INTERNAL_ERROR" => 500,
        "UNAVAILABLE" | "SERVICE_UNAVAILABLE" => 503,
        _ => 400,
    }
}

/// The operation as a client sees it now: unfinished while polls or time are left.
fn view(record: &Record, unfinished_status: &str) -> Value {
    let mut current = record.finished.clone();
    if record.unfinished()
        && let Some(fields) = current.as_object_mut()
    {
        fields.insert("status".into(), json!(unfinished_status));
        fields.insert("progress".into(), json!(0));
        for finished_only in ["endTime", "error", "httpErrorStatusCode", "httpErrorMessage"] {
            fields.remove(finished_only);
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> OperationTarget {
        OperationTarget { key: Key::new("p", "regions/r1", "urlMaps", "m"), operation_type: "insert".into(), target_id: Some("42".into()) }
    }

    #[test]
    fn pending_polls_then_done() {
        let mut operations = Operations::default();
        operations.set_pending(2, 1);
        let first = operations.record("http://fake", &target(), None, Some("req-1"));
        assert_eq!(first["status"], "PENDING");
        assert_eq!(first["region"], "http://fake/compute/v1/projects/p/regions/r1");
        let name = first["name"].as_str().expect("name").to_string();
        let statuses: Vec<Value> = (0..3).filter_map(|_| operations.poll("p", "regions/r1", &name)).map(|op| op["status"].clone()).collect();
        assert_eq!(statuses, vec![json!("RUNNING"), json!("RUNNING"), json!("DONE")]);
        assert_eq!(operations.replay("p", "req-1").map(|op| op["name"].clone()), Some(json!(name)));
        assert!(operations.poll("p", "global", &name).is_none());
    }

    #[test]
    fn every_nth_operation_is_slow_and_errors_show_when_done() {
        let mut operations = Operations::default();
        operations.set_pending(1, 2);
        let failure = OperationFault { code: "QUOTA_EXCEEDED".into(), message: "no quota".into() };
        let first = operations.record("http://fake", &target(), Some(failure), None);
        assert_eq!(first["status"], "DONE");
        assert_eq!(first["httpErrorStatusCode"], 403);
        assert_eq!(first["httpErrorMessage"], "FORBIDDEN");
        assert_eq!(first["error"]["errors"][0]["code"], "QUOTA_EXCEEDED");
        let second = operations.record("http://fake", &target(), None, None);
        assert_eq!(second["status"], "PENDING");
        let name = second["name"].as_str().expect("name").to_string();
        assert_eq!(operations.wait("p", "regions/r1", &name).map(|op| op["status"].clone()), Some(json!("DONE")));
    }
}
