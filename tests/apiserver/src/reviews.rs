//! `SelfSubjectAccessReview` (`kubectl auth can-i`): may the requesting user do something,
//! decided by the same RBAC authorizer that guards every request.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::rbac::{Attributes, User};
use crate::server::Shared;

/// The review with its `status` filled in. With RBAC off every request is allowed, so is this.
pub fn self_subject_access_review(shared: &Arc<Shared>, headers: &HeaderMap, mut review: Value) -> Result<Value, ApiError> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let user = if shared.rbac {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        shared.tokens.lock().unwrap_or_else(|e| e.into_inner()).authenticate(authorization, &store)?
    } else {
        User::admin()
    };
    let text = |pointer: &str| review.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let allowed = if let Some(path) = text("/spec/nonResourceAttributes/path") {
        !shared.rbac || user.groups.iter().any(|g| g == "system:masters") || crate::rbac::non_resource_allowed(&user, &path)
    } else if review.pointer("/spec/resourceAttributes").is_some() {
        let attributes = Attributes {
            verb: text("/spec/resourceAttributes/verb").unwrap_or_default(),
            group: text("/spec/resourceAttributes/group").unwrap_or_default(),
            resource: text("/spec/resourceAttributes/resource").unwrap_or_default(),
            subresource: text("/spec/resourceAttributes/subresource"),
            namespace: text("/spec/resourceAttributes/namespace"),
            name: text("/spec/resourceAttributes/name"),
        };
        !shared.rbac || crate::rbac::authorize(&store, &user, &attributes).is_ok()
    } else {
        return Err(ApiError::invalid(
            "SelfSubjectAccessReview.authorization.k8s.io",
            "",
            vec![(
                "spec.resourceAttributes".into(),
                "FieldValueRequired".into(),
                "exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
            )],
        ));
    };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["status"] = json!({"allowed": allowed});
    if allowed && shared.rbac {
        review["status"]["reason"] = json!("allowed by RBAC");
    }
    Ok(review)
}
