//! Watch streams: replay what happened after the requested resourceVersion, then follow live
//! changes, with bookmarks, timeouts, and `410 Gone` when the history no longer reaches back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::error::ApiError;
use crate::http::{Target, present_value, streaming_body};
use crate::proto::Format;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::WatchEvent;

/// What one watcher wants to see.
struct Filter {
    rt: ResourceType,
    /// `sendInitialEvents=true` (watch-list): end the initial state with a marked bookmark.
    initial_events_end: bool,
    /// The client asked for `meta.k8s.io` Tables (kubectl get -w).
    table: bool,
    /// JSON lines, or protobuf frames.
    format: Format,
    version: String,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn wants(&self, event: &WatchEvent) -> bool {
        event.key == self.rt.key()
            && self.namespace.as_ref().is_none_or(|ns| event.object.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            && self.labels.matches(&event.object)
            && self.fields.matches(&event.object)
    }

    fn line(&self, event_type: &str, object: &Value) -> Bytes {
        let object = present_value(&self.rt, &self.version, object.clone());
        let object = if self.table { crate::http::table(&self.rt, &self.version, vec![object], 0, None) } else { object };
        event(&self.format, event_type, &object)
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(&self.version), "metadata": metadata});
        event(&self.format, "BOOKMARK", &object)
    }
}

/// One watch event: a JSON line, or a protobuf frame (a `Status` object for ERROR events).
fn event(format: &Format, event_type: &str, object: &Value) -> Bytes {
    let Format::Protobuf(message) = format else {
        return Bytes::from(format!("{}\n", json!({"type": event_type, "object": object})));
    };
    let encoded = if event_type == "ERROR" { crate::proto::encode_status(object) } else { crate::proto::encode_object(message, object) };
    match encoded {
        Ok(bytes) => crate::proto::watch_frame(event_type, &bytes),
        Err(error) => crate::proto::watch_frame("ERROR", &crate::proto::encode_status(&error.to_status()).unwrap_or_default()),
    }
}

pub async fn watch(
    shared: Arc<Shared>,
    rt: ResourceType,
    t: Target,
    query: &HashMap<String, String>,
    wants_table: bool,
    format: Format,
) -> Result<Response, ApiError> {
    let initial_events = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let fields = FieldSelector::parse_for(&rt.kind, query.get("fieldSelector").map(String::as_str).unwrap_or(""))?;
    let filter = Filter {
        rt,
        initial_events_end: initial_events,
        table: wants_table,
        format: format.clone(),
        version: t.version.clone(),
        namespace: t.namespace.clone(),
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields,
    };
    let since = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?),
    };
    let timeout = query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).unwrap_or(1800);
    let bookmarks = query.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let (backlog, live, start_rv) = {
        let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
        // A watch-list request starts from the current state, whatever resourceVersion it names.
        let since = if initial_events { None } else { since };
        let backlog = store.backlog(&filter.rt, filter.namespace.as_deref(), since);
        // Everything after store.rv arrives live; everything up to it is in the backlog.
        (backlog, store.subscribe(), store.rv)
    };
    let closer = shared.close_watches.subscribe();
    match backlog {
        Err(gone) => {
            let _ = tx.try_send(event(&format, "ERROR", &gone.to_status()));
        }
        Ok(backlog) => {
            shared.watchers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let task_shared = shared.clone();
            tokio::spawn(async move {
                follow(filter, backlog, live, closer, tx, start_rv, Duration::from_secs(timeout), bookmarks).await;
                task_shared.watchers.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
    }
    let content_type = if matches!(format, Format::Protobuf(_)) { crate::proto::PROTOBUF_WATCH } else { "application/json" };
    let headers = [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")];
    Ok((headers, streaming_body(rx)).into_response())
}

#[allow(clippy::too_many_arguments)]
async fn follow(
    filter: Filter,
    backlog: Vec<Arc<WatchEvent>>,
    mut live: broadcast::Receiver<Arc<WatchEvent>>,
    mut closer: broadcast::Receiver<()>,
    tx: mpsc::Sender<Bytes>,
    start_rv: u64,
    timeout: Duration,
    bookmarks: bool,
) {
    let mut last_rv = start_rv;
    for event in backlog.iter().filter(|e| filter.wants(e)) {
        last_rv = last_rv.max(event.rv);
        if tx.send(filter.line(event.event_type, &event.object)).await.is_err() {
            return;
        }
    }
    if filter.initial_events_end && tx.send(filter.bookmark(last_rv, true)).await.is_err() {
        return;
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = live.recv() => match event {
                Ok(event) => {
                    if event.rv <= last_rv {
                        continue;
                    }
                    last_rv = event.rv;
                    if filter.wants(&event) && tx.send(filter.line(event.event_type, &event.object)).await.is_err() {
                        return;
                    }
                }
                // A watcher that falls behind is closed; it resumes from its last resourceVersion.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = closer.recv() => return,
            _ = &mut deadline => {
                if bookmarks {
                    let _ = tx.send(filter.bookmark(last_rv, false)).await;
                }
                return;
            }
            _ = ticker.tick(), if bookmarks => {
                if tx.send(filter.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
            }
        }
    }
}
