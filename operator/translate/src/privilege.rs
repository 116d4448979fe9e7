//! Who may set which provider parameter. Parameters named by a GatewayClass are the
//! infrastructure provider's and may carry privileged settings; a Gateway-level
//! `spec.infrastructure.parametersRef` (written by whoever may edit the Gateway, possibly a
//! tenant) may only set the fields its provider declares Gateway-tunable
//! ([`Capabilities::gateway_parameters`]) plus those the class's parameters delegate in
//! `gatewayOverrides`. This is the one place the rule lives; `portico run` and `portico plan`
//! both get it through translation.

use portico_model::Capabilities;
use portico_model::capabilities::GATEWAY_OVERRIDES_FIELD;
use portico_model::snapshot::ParametersObject;

/// The fields a class's parameters delegate to Gateways (`gatewayOverrides`).
pub fn delegated(class: Option<&ParametersObject>) -> Vec<String> {
    let list = class.and_then(|c| c.spec.get(GATEWAY_OVERRIDES_FIELD)).and_then(|v| v.as_array());
    list.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// `Err(message naming the first field)` when a Gateway-level parameters object sets a field
/// that is class-only and not delegated. A Gateway naming its class's own object is fine.
pub fn check_gateway_parameters(own: &ParametersObject, class: Option<&ParametersObject>, caps: &Capabilities) -> Result<(), String> {
    if class.is_some_and(|c| c.kind == own.kind && c.namespace == own.namespace && c.name == own.name) {
        return Ok(());
    }
    let Some(fields) = own.spec.as_object() else {
        return Ok(());
    };
    let delegated = delegated(class);
    // serde_json's map is ordered by key, so the first offending field is deterministic.
    for (field, value) in fields {
        if !is_set(caps, field, value) {
            continue;
        }
        let allowed = field != GATEWAY_OVERRIDES_FIELD && (caps.gateway_parameters.contains(field) || delegated.contains(field));
        if !allowed {
            let place = own.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
            return Err(format!(
                "spec.infrastructure.parametersRef: {} {place}{} sets {field}, which only the GatewayClass's parameters may set \
                 (Gateways may set: {}; a class delegates more with {GATEWAY_OVERRIDES_FIELD})",
                own.kind,
                own.name,
                allowed_list(caps, &delegated)
            ));
        }
    }
    Ok(())
}

/// A field holding nothing or its default (API servers fill defaults in from the CRD schema)
/// has not been set.
pub fn is_set(caps: &Capabilities, field: &str, value: &serde_json::Value) -> bool {
    let empty = match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(fields) => fields.is_empty(),
        _ => false,
    };
    !empty && caps.parameter_defaults.get(field) != Some(value)
}

fn allowed_list(caps: &Capabilities, delegated: &[String]) -> String {
    let mut all: Vec<&str> = caps.gateway_parameters.iter().map(String::as_str).chain(delegated.iter().map(String::as_str)).collect();
    all.sort_unstable();
    all.dedup();
    if all.is_empty() { "nothing".into() } else { all.join(", ") }
}
