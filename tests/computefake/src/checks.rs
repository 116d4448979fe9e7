//! Field checks GCP makes on route actions and target HTTPS proxies, as its API documents them:
//! a route action's `corsPolicy` and `retryPolicy` take only their documented fields and values,
//! and a target HTTPS proxy takes at most 15 SSL certificates.

use serde_json::Value;

use crate::errors::ApiError;

/// GCP's limit of SSL certificates per target HTTPS proxy.
pub const SSL_CERTIFICATES_PER_TARGET_PROXY: usize = 15;

const CORS_FIELDS: &[&str] = &["allowOrigins", "allowOriginRegexes", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials", "disabled"];
const RETRY_FIELDS: &[&str] = &["retryConditions", "numRetries", "perTryTimeout"];
const RETRY_CONDITIONS: &[&str] = &[
    "5xx",
    "gateway-error",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Every route action of a URL map (path matchers' route rules and path rules, and defaults).
pub fn check_route_actions(url_map: &Value) -> Result<(), ApiError> {
    let mut actions: Vec<&Value> = url_map.get("defaultRouteAction").into_iter().collect();
    for matcher in url_map.get("pathMatchers").and_then(Value::as_array).into_iter().flatten() {
        actions.extend(matcher.get("defaultRouteAction"));
        for rule in ["routeRules", "pathRules"].iter().filter_map(|k| matcher.get(*k)).filter_map(Value::as_array).flatten() {
            actions.extend(rule.get("routeAction"));
        }
    }
    for action in actions {
        if let Some(cors) = action.get("corsPolicy") {
            check_cors(cors)?;
        }
        if let Some(retry) = action.get("retryPolicy") {
            check_retry(retry)?;
        }
    }
    Ok(())
}

fn unknown_fields(value: &Value, known: &[&str], at: &str) -> Result<(), ApiError> {
    let fields = value.as_object().ok_or_else(|| ApiError::Invalid(format!("Invalid value for field '{at}': expected an object")))?;
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(ApiError::Invalid(format!("Invalid JSON payload received. Unknown name \"{field}\" at '{at}': Cannot find field."))),
        None => Ok(()),
    }
}

fn check_cors(cors: &Value) -> Result<(), ApiError> {
    unknown_fields(cors, CORS_FIELDS, "url_map.path_matchers.route_rules.route_action.cors_policy")?;
    for list in ["allowOrigins", "allowOriginRegexes", "allowMethods", "allowHeaders", "exposeHeaders"] {
        if cors.get(list).is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
            return Err(ApiError::Invalid(format!("Invalid value for field 'resource.corsPolicy.{list}': expected a list of strings")));
        }
    }
    if cors.get("maxAge").is_some_and(|v| v.as_i64().is_none_or(|n| n < 0)) {
        return Err(ApiError::Invalid("Invalid value for field 'resource.corsPolicy.maxAge': must be a non-negative integer".into()));
    }
    Ok(())
}

fn check_retry(retry: &Value) -> Result<(), ApiError> {
    unknown_fields(retry, RETRY_FIELDS, "url_map.path_matchers.route_rules.route_action.retry_policy")?;
    let conditions = retry.get("retryConditions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    if let Some(bad) = conditions.iter().find(|c| !c.as_str().is_some_and(|c| RETRY_CONDITIONS.contains(&c))) {
        return Err(ApiError::Invalid(format!("Invalid value for field 'resource.retryPolicy.retryConditions': {bad}")));
    }
    if retry.get("numRetries").is_some_and(|n| n.as_u64().is_none_or(|n| n == 0)) {
        return Err(ApiError::Invalid("Invalid value for field 'resource.retryPolicy.numRetries': must be greater than 0".into()));
    }
    Ok(())
}

/// A target HTTPS proxy's certificate list stays within GCP's limit.
pub fn check_target_https_proxy(proxy: &Value) -> Result<(), ApiError> {
    let count = proxy.get("sslCertificates").and_then(Value::as_array).map_or(0, Vec::len);
    if count > SSL_CERTIFICATES_PER_TARGET_PROXY {
        return Err(ApiError::Invalid(format!(
            "Invalid value for field 'resource.sslCertificates': {count} certificates; a target HTTPS proxy takes at most {SSL_CERTIFICATES_PER_TARGET_PROXY}."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_action(action: Value) -> Value {
        json!({ "pathMatchers": [{ "name": "m", "routeRules": [{ "priority": 1, "routeAction": action }] }] })
    }

    #[test]
    fn documented_cors_and_retry_policies_pass_and_others_are_refused() {
        let good = with_action(json!({
            "corsPolicy": { "allowOrigins": ["https://a.example"], "maxAge": 5, "allowCredentials": true },
            "retryPolicy": { "retryConditions": ["connect-failure", "gateway-error"], "numRetries": 2 }
        }));
        assert!(check_route_actions(&good).is_ok());
        assert!(check_route_actions(&with_action(json!({ "corsPolicy": { "allowOrigin": ["x"] } }))).is_err());
        assert!(check_route_actions(&with_action(json!({ "retryPolicy": { "retryConditions": ["503"] } }))).is_err());
        assert!(check_route_actions(&with_action(json!({ "retryPolicy": { "numRetries": 0 } }))).is_err());
    }

    #[test]
    fn a_target_https_proxy_takes_at_most_fifteen_certificates() {
        let proxy = |n: usize| json!({ "sslCertificates": (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>() });
        assert!(check_target_https_proxy(&proxy(15)).is_ok());
        assert!(check_target_https_proxy(&proxy(16)).is_err());
    }
}
