//! The object store: every object of every served kind, one cluster-wide resourceVersion
//! counter, and the event history that watches resume from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::resources::{ResourceType, TypeKey, builtin_types};
use crate::selectors::{FieldSelector, LabelSelector};

/// One change, as watchers see it. `object` is in storage form (storage apiVersion).
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub key: TypeKey,
    pub namespace: String,
    pub event_type: &'static str,
    pub object: Value,
}

pub type ObjectKey = (String, String);

pub struct Store {
    pub(crate) rv: u64,
    pub(crate) types: BTreeMap<TypeKey, ResourceType>,
    pub(crate) objects: BTreeMap<TypeKey, BTreeMap<ObjectKey, Value>>,
    history: VecDeque<Arc<WatchEvent>>,
    history_limit: usize,
    /// Events up to and including this resourceVersion are no longer retained.
    pub(crate) compacted: u64,
    tx: broadcast::Sender<Arc<WatchEvent>>,
}

/// What a list request asks for.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_after: Option<ObjectKey>,
}

pub struct ListResult {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub next: Option<ObjectKey>,
    pub remaining: usize,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(history_limit.max(1024));
        let mut store = Store { rv: 0, types: BTreeMap::new(), objects: BTreeMap::new(), history: VecDeque::new(), history_limit, compacted: 0, tx };
        for rt in builtin_types() {
            store.objects.insert(rt.key(), BTreeMap::new());
            store.types.insert(rt.key(), rt);
        }
        for ns in ["default", "kube-system", "kube-public"] {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]}});
            let rt = store.types[&(String::new(), "namespaces".to_string())].clone();
            let _ = store.create(&rt, "", object, &crate::writes::WriteOptions::default());
        }
        store
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.tx.subscribe()
    }

    pub(crate) fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Record an event in the history and send it to live watchers.
    pub(crate) fn emit(&mut self, rt: &ResourceType, event_type: &'static str, object: &Value) {
        let event = Arc::new(WatchEvent {
            rv: self.rv,
            key: rt.key(),
            namespace: object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string(),
            event_type,
            object: object.clone(),
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        let _ = self.tx.send(event);
    }

    /// Forget all history: any watch resuming from an older resourceVersion gets 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// Find a served resource by URL parts.
    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Result<ResourceType, ApiError> {
        let rt = self.types.get(&(group.to_string(), plural.to_string())).filter(|rt| rt.versions.iter().any(|v| v == version));
        rt.cloned().ok_or_else(|| {
            let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            ApiError::no_route(&format!("{gv}, Resource={plural}"))
        })
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<&Value, ApiError> {
        self.objects.get(&rt.key()).and_then(|m| m.get(&(namespace.to_string(), name.to_string()))).ok_or_else(|| ApiError::not_found(&rt.display(), name))
    }

    pub(crate) fn get_opt(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&rt.key()).and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
    }

    pub fn list(&self, rt: &ResourceType, query: &ListQuery) -> ListResult {
        let Some(objects) = self.objects.get(&rt.key()) else {
            return ListResult { items: Vec::new(), resource_version: self.rv, next: None, remaining: 0 };
        };
        let start = query.continue_after.clone();
        let matching = objects
            .iter()
            .filter(|(key, _)| start.as_ref().is_none_or(|s| *key > s))
            .filter(|(key, _)| query.namespace.as_ref().is_none_or(|ns| key.0 == *ns))
            .filter(|(_, o)| query.labels.matches(o) && query.fields.matches(o));
        let mut items = Vec::new();
        let mut next = None;
        let mut remaining = 0;
        for (key, object) in matching {
            if query.limit.is_some_and(|l| l > 0 && items.len() >= l) {
                if next.is_none() {
                    next = Some(last_key(&items));
                }
                remaining += 1;
                continue;
            }
            let _ = key;
            items.push(object.clone());
        }
        ListResult { items, resource_version: self.rv, next: next.flatten(), remaining }
    }

    /// The events after `since` that a watch must replay, or 410 if they are gone. `None` means
    /// "from now", with synthetic ADDED events for what exists (a watch without resourceVersion).
    pub fn backlog(&self, rt: &ResourceType, namespace: Option<&str>, since: Option<u64>) -> Result<Vec<Arc<WatchEvent>>, ApiError> {
        let key = rt.key();
        match since {
            Some(rv) if rv < self.compacted => Err(ApiError::gone(format!("too old resource version: {rv} ({})", self.compacted + 1))),
            Some(rv) => Ok(self.history.iter().filter(|e| e.rv > rv && e.key == key && namespace.is_none_or(|ns| e.namespace == ns)).cloned().collect()),
            None => Ok(self
                .objects
                .get(&key)
                .into_iter()
                .flatten()
                .filter(|((ns, _), _)| namespace.is_none_or(|want| ns == want))
                .map(|(_, object)| {
                    let rv = object.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|v| v.parse().ok()).unwrap_or(0);
                    Arc::new(WatchEvent { rv, key: key.clone(), namespace: String::new(), event_type: "ADDED", object: object.clone() })
                })
                .collect()),
        }
    }

    pub fn object_count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }
}

fn last_key(items: &[Value]) -> Option<ObjectKey> {
    let last = items.last()?;
    let text = |p: &str| last.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    Some((text("/metadata/namespace"), text("/metadata/name")))
}
