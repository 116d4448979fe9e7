//! Kubernetes `Status` errors: what kubectl and kube-rs expect to read when a request fails.

use serde_json::{Value, json};

/// A failed request, rendered as a `kind: Status` body with the matching HTTP code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    pub fn not_found(resource: &str, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{resource} \"{name}\" not found"));
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }

    pub fn no_route(path: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    pub fn already_exists(resource: &str, name: &str) -> Self {
        let mut e = Self::new(409, "AlreadyExists", format!("{resource} \"{name}\" already exists"));
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }

    pub fn conflict(resource: &str, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let mut e = Self::new(409, "Conflict", message);
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }

    /// Server-side apply conflicts: one cause per (field, manager).
    pub fn apply_conflict(resource: &str, name: &str, conflicts: &[(String, String)]) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(field, manager)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field}))
            .collect();
        let list = conflicts.iter().map(|(f, m)| format!("conflict with \"{m}\": {f}")).collect::<Vec<_>>().join("\n- ");
        let mut e = Self::new(409, "Conflict", format!("Apply failed with {} conflict(s):\n- {list}", conflicts.len()));
        e.details = Some(json!({"name": name, "kind": resource, "causes": causes}));
        e
    }

    /// 422 with field-level causes (`FieldValueRequired`, `FieldValueInvalid`, ...).
    pub fn invalid(kind: &str, name: &str, causes: Vec<(String, String, String)>) -> Self {
        let mut lines: Vec<String> = causes.iter().map(|(field, _, message)| format!("{field}: {message}")).collect();
        lines.dedup();
        // As apimachinery's aggregate error: one cause as it is, several in brackets.
        let summary = if lines.len() == 1 { lines.remove(0) } else { format!("[{}]", lines.join(", ")) };
        let causes: Vec<Value> = causes.into_iter().map(|(field, reason, message)| json!({"reason": reason, "message": message, "field": field})).collect();
        let mut e = Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {summary}"));
        e.details = Some(match kind.split_once('.') {
            Some((kind, group)) => json!({"name": name, "group": group, "kind": kind, "causes": causes}),
            None => json!({"name": name, "kind": kind, "causes": causes}),
        });
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type})"
            ),
        )
    }

    /// kube-apiserver's 415 for a body in a media type this resource does not decode.
    pub fn unsupported_media_type_of(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {}", accepted.join(", ")),
        )
    }

    /// kube-apiserver's 406 when `Accept` offers nothing the resource can be written as.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::new(406, "NotAcceptable", format!("only the following media types are accepted: {}", accepted.join(", ")))
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_many_requests() -> Self {
        Self::new(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later (injected fault)")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// kube-apiserver's 401 for a missing or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// RBAC's 403, with kube-apiserver's message and details.
    pub fn forbidden(message: String, details: Value) -> Self {
        let mut e = Self::new(403, "Forbidden", message);
        e.details = Some(details);
        e
    }

    pub fn forbidden_terminating(namespace: &str) -> Self {
        Self::new(403, "Forbidden", format!("unable to create new content in namespace {namespace} because it is being terminated"))
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}
