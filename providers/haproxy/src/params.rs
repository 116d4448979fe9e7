//! `HAProxyParameters` (group `portico.dev`): how Portico runs HAProxy for a GatewayClass, and
//! the address pool its Gateways get addresses from. Referenced by `GatewayClass.spec.parametersRef`
//! or `Gateway.spec.infrastructure.parametersRef` (which may only tune what the class allows: see
//! [`GATEWAY_TUNABLE`] and `gatewayOverrides`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the HAProxy process is run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, Default)]
pub enum HAProxyMode {
    /// Portico starts and reloads a local `haproxy` in master-worker mode.
    #[default]
    Managed,
    /// Portico writes the configuration for an external appliance and runs `reloadCommand`.
    External,
}

#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HAProxyTimeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ms: Option<u64>,
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[kube(group = "portico.dev", version = "v1alpha1", kind = "HAProxyParameters", plural = "haproxyparameters", namespaced)]
#[kube(shortname = "haproxyp", printcolumn = r#"{"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}"#)]
#[kube(printcolumn = r#"{"name": "Pool", "type": "string", "jsonPath": ".spec.addressPool"}"#)]
#[kube(printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#)]
#[serde(rename_all = "camelCase")]
pub struct HAProxyParametersSpec {
    /// Addresses Gateways get their VIPs from: single addresses (`10.0.0.5`) or IPv4 ranges
    /// (`10.0.0.10-10.0.0.20`). A Gateway's `spec.addresses` must be inside the pool.
    #[serde(default)]
    pub address_pool: Vec<String>,
    #[serde(default)]
    pub mode: HAProxyMode,
    /// Where the configuration, certificates and runtime socket live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// The `haproxy` binary (Managed mode); default `haproxy` from PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy_binary: Option<String>,
    /// External mode: the command run after a new configuration was written and validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_command: Option<Vec<String>>,
    /// Added to every listener port when binding, for unprivileged runs (80 -> 80 + offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_offset: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HAProxyTimeouts>,
    /// Class-level only: further fields a Gateway-level `spec.infrastructure.parametersRef` may
    /// set (by their camelCase name), beyond the ones every Gateway may tune. See docs/haproxy.md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_overrides: Vec<String>,
}

/// Fields a Gateway-level HAProxyParameters may set without delegation: they only tune the
/// Gateway's own HAProxy. Binaries, commands, paths, addresses, ports and the mode are class-only.
pub const GATEWAY_TUNABLE: &[&str] = &["timeouts"];

/// Every address of a pool, in order, or why an entry is malformed.
pub fn expand_pool(pool: &[String]) -> Result<Vec<std::net::IpAddr>, String> {
    let mut out = Vec::new();
    for entry in pool {
        match entry.split_once('-') {
            None => out.push(entry.trim().parse().map_err(|_| format!("address pool entry {entry:?} is not an IP address"))?),
            Some((from, to)) => {
                let from: std::net::Ipv4Addr = from.trim().parse().map_err(|_| format!("address pool range {entry:?} does not start with an IPv4 address"))?;
                let to: std::net::Ipv4Addr = to.trim().parse().map_err(|_| format!("address pool range {entry:?} does not end with an IPv4 address"))?;
                let (a, b) = (u32::from(from), u32::from(to));
                if b < a || b - a > 65_536 {
                    return Err(format!("address pool range {entry:?} is empty or too large"));
                }
                out.extend((a..=b).map(|n| std::net::IpAddr::V4(n.into())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pools_expand() {
        let pool = super::expand_pool(&["127.0.0.10-127.0.0.12".into(), "::1".into()]).unwrap();
        assert_eq!(pool.len(), 4);
        assert!(super::expand_pool(&["nope".into()]).is_err());
        assert!(super::expand_pool(&["10.0.0.5-10.0.0.1".into()]).is_err());
    }
}
