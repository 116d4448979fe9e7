#![forbid(unsafe_code)]
//! A stateful fake of the Compute Engine REST API (v1) for the load-balancing resources, for
//! Portico's GCP tests. It serves `/compute/v1/projects/{project}/...` on loopback so the
//! official Rust client can be pointed at it, keeps resources in memory, returns operations
//! for every change, and lets tests count calls, seed resources, slow operations down and
//! inject faults. What it implements and what it leaves out is listed in its README.

mod checks;
mod collections;
mod errors;
mod faults;
mod filter;
mod ops;
mod pattern;
mod reads;
mod routes;
mod server;
mod store;
mod time;
mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use serde_json::Value;

pub use faults::Fault;

use server::Shared;
use store::Key;

/// Bodies up to this size are read, so that oversized URL maps get GCP's 400, not a 413.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on 127.0.0.1 for the Compute fake: {0}")]
    Bind(#[from] std::io::Error),
}

/// A running fake. Cheap to clone: every clone controls the same server, which serves until
/// the tokio runtime that started it shuts down.
#[derive(Debug, Clone)]
pub struct ComputeFake {
    shared: Arc<Shared>,
}

impl ComputeFake {
    /// Listen on a free port of 127.0.0.1 and serve in a task of the current runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound; see [`ComputeFake::try_start`].
    pub async fn start() -> ComputeFake {
        match ComputeFake::try_start().await {
            Ok(fake) => fake,
            Err(error) => panic!("{error}"),
        }
    }

    /// Like [`ComputeFake::start`], returning the error instead of panicking.
    pub async fn try_start() -> Result<ComputeFake, StartError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared::new(&endpoint));
        let app = axum::Router::new().fallback(server::handle).layer(DefaultBodyLimit::max(BODY_LIMIT)).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ComputeFake { shared })
    }

    /// `http://127.0.0.1:PORT`, for the client's `with_endpoint`.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// How many times each API method was called, e.g. `urlMaps.insert`,
    /// `networkEndpointGroups.attachNetworkEndpoints`, `globalOperations.get`.
    /// Calls answered by an injected fault count too.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.lock().calls.clone()
    }

    /// The count of one API method.
    pub fn call_count(&self, api_method: &str) -> u64 {
        self.shared.lock().calls.get(api_method).copied().unwrap_or(0)
    }

    /// Calls that could change something: inserts, updates, patches, deletes and custom verbs
    /// (not gets, lists, `listNetworkEndpoints` or operation polls).
    pub fn mutating_calls(&self) -> u64 {
        self.shared.lock().mutating_calls
    }

    /// Forget the call counts.
    pub fn reset_calls(&self) {
        let mut state = self.shared.lock();
        state.calls.clear();
        state.mutating_calls = 0;
    }

    /// The resources of a collection in every project and location, in name order.
    pub fn resources(&self, collection: &str) -> Vec<Value> {
        self.shared.lock().store.everywhere(collection).into_iter().map(|(_, resource)| resource.clone()).collect()
    }

    /// One resource, in whichever project holds it; `location` is `global`, `regions/{r}` or
    /// `zones/{z}`.
    pub fn get(&self, location: &str, collection: &str, name: &str) -> Option<Value> {
        self.shared.lock().store.find(location, collection, name).cloned()
    }

    /// The endpoints attached to a network endpoint group, in attachment order.
    pub fn network_endpoints(&self, project: &str, location: &str, name: &str) -> Vec<Value> {
        let key = Key::new(project, location, "networkEndpointGroups", name);
        self.shared.lock().store.endpoints(&key).to_vec()
    }

    /// Store a resource directly, as if created outside the system under test: fills `kind`,
    /// `id`, `selfLink`, `creationTimestamp`, fingerprints and defaults (an `id` or
    /// `creationTimestamp` in `body` is kept), replaces any resource of the same name, and is
    /// neither validated nor counted as a call.
    ///
    /// # Panics
    /// If `body` is not an object with a string `name`.
    pub fn put_raw(&self, project: &str, location: &str, collection: &str, body: Value) {
        let Value::Object(mut fields) = body else { panic!("put_raw needs a JSON object") };
        let Some(name) = fields.get("name").and_then(Value::as_str).map(str::to_string) else { panic!("put_raw needs a string `name`") };
        let given: Vec<(String, Value)> =
            ["id", "creationTimestamp"].iter().filter_map(|field| fields.get(*field).map(|value| (field.to_string(), value.clone()))).collect();
        let key = Key::new(project, location, collection, &name);
        let mut state = self.shared.lock();
        writes::shape(&mut state.store, &key, &mut fields, None);
        fields.extend(given);
        state.store.put(key, Value::Object(fields));
    }

    /// Remove a resource directly (and a group's endpoints), as if deleted outside the system
    /// under test. Whether it existed.
    pub fn delete_raw(&self, project: &str, location: &str, collection: &str, name: &str) -> bool {
        self.shared.lock().store.remove(&Key::new(project, location, collection, name)).is_some()
    }

    /// Every operation from now on reports `RUNNING` for `polls` polls before `DONE`
    /// (0, the default: done at once).
    pub fn set_pending_polls(&self, polls: u32) {
        self.set_pending_polls_every(polls, 1);
    }

    /// Only every `every`-th operation created from now on (counting all of them) reports
    /// `RUNNING` for `polls` polls; `every` 0 turns this off.
    pub fn set_pending_polls_every(&self, polls: u32, every: u32) {
        self.shared.lock().operations.set_pending(polls, every);
    }

    /// Every operation created from now on takes `duration` of wall-clock time before it is
    /// DONE (GCP's changes take 1-2 s each); `None` turns this off.
    pub fn set_operation_duration(&self, duration: Option<std::time::Duration>) {
        self.shared.lock().operations.set_duration(duration);
    }

    /// Queue a fault for the next matching calls.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Drop every fault not yet fired.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }
}
