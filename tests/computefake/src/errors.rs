//! Failed requests, rendered the way the Compute API renders them: a JSON `error` object with
//! the HTTP code, a message, one `errors[]` entry carrying the legacy `reason`, and the
//! canonical `status` name.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 `notFound`: unknown resource, operation or path.
    #[error("{0}")]
    NotFound(String),
    /// 409 `alreadyExists`: an insert reused a name.
    #[error("{0}")]
    AlreadyExists(String),
    /// 412 `conditionNotMet`: a stale or missing fingerprint.
    #[error("{0}")]
    ConditionNotMet(String),
    /// 400 `resourceInUseByAnotherResource`: a delete of something still referenced.
    #[error("{0}")]
    ResourceInUse(String),
    /// 400 `invalid`: a malformed body, a bad name, a rejected value.
    #[error("{0}")]
    Invalid(String),
    /// Any status and reason, from fault injection.
    #[error("{message}")]
    Injected { status: u16, reason: String, message: String },
}

impl ApiError {
    pub fn http_status(&self) -> u16 {
        match self {
            ApiError::NotFound(_) => 404,
            ApiError::AlreadyExists(_) => 409,
            ApiError::ConditionNotMet(_) => 412,
            ApiError::ResourceInUse(_) | ApiError::Invalid(_) => 400,
            ApiError::Injected { status, .. } => *status,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            ApiError::NotFound(_) => "notFound",
            ApiError::AlreadyExists(_) => "alreadyExists",
            ApiError::ConditionNotMet(_) => "conditionNotMet",
            ApiError::ResourceInUse(_) => "resourceInUseByAnotherResource",
            ApiError::Invalid(_) => "invalid",
            ApiError::Injected { reason, .. } => reason,
        }
    }

    /// The JSON body GCP sends with the error.
    pub fn body(&self) -> Value {
        let code = self.http_status();
        let message = self.to_string();
        json!({
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": self.reason()}],
                "status": status_name(code),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.http_status(), &self.body());
        if self.http_status() == 429 {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

/// The canonical (`google.rpc.Code`) name for an HTTP status.
pub fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if code >= 500 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

/// A JSON response with `content-type: application/json`.
pub fn json_response(code: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_code_reason_and_status() {
        let body = ApiError::ConditionNotMet("Invalid fingerprint.".into()).body();
        assert_eq!(body["error"]["code"], 412);
        assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");
        assert_eq!(body["error"]["errors"][0]["reason"], "conditionNotMet");
        assert_eq!(body["error"]["message"], "Invalid fingerprint.");
    }

    #[test]
    fn injected_errors_keep_their_reason() {
        let error = ApiError::Injected { status: 503, reason: "backendError".into(), message: "x".into() };
        assert_eq!(error.reason(), "backendError");
        assert_eq!(error.body()["error"]["status"], "UNAVAILABLE");
    }
}
