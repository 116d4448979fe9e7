//! Deterministic, unique HAProxy identifiers. HAProxy allows letters, digits, `-`, `_`, `.` and
//! `:` in proxy names; Kubernetes names use lower-case letters, digits, `-` and `.`. Components are
//! escaped injectively (anything else becomes `:` plus hex bytes) and joined with `_`, which never
//! appears in an escaped component, so distinct inputs always give distinct names.

use portico_model::ir::{ObjectRef, Retry};

/// Escapes one name component: `[a-z0-9.-]` is kept, every other byte becomes `:xx`.
pub(crate) fn esc(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for byte in component.bytes() {
        let c = byte as char;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
            out.push(c);
        } else {
            out.push_str(&format!(":{byte:02x}"));
        }
    }
    out
}

/// `<ns>_<name>` of a Gateway.
fn gateway_part(gateway: &ObjectRef) -> String {
    format!("{}_{}", esc(&gateway.namespace), esc(&gateway.name))
}

/// HAProxy-safe identifier for a backend id like `ns/svc:8080-h2c` (deterministic, unique,
/// readable): `be_<gw ns>_<gw name>_<ns>_<svc>_<port and suffix>`. Ids not in that shape are
/// escaped whole, which gives a name with fewer `_`, so the two forms cannot collide.
pub fn backend_name(gateway: &ObjectRef, backend_id: &str) -> String {
    let parts = backend_id.split_once('/').and_then(|(ns, rest)| rest.rsplit_once(':').map(|(svc, port)| (ns, svc, port)));
    match parts {
        Some((ns, svc, port)) => {
            format!("be_{}_{}_{}_{}", gateway_part(gateway), esc(ns), esc(svc), esc(port))
        }
        None => format!("be_{}_{}", gateway_part(gateway), esc(backend_id)),
    }
}

/// The copy of a backend that retries failed attempts as `retry` asks (rules with the same retry
/// policy share it): `<backend>_retry_<attempts>_<codes>`, more `_`-separated parts than any
/// [`backend_name`], so no collision.
pub(crate) fn retry_backend_name(gateway: &ObjectRef, backend_id: &str, retry: &Retry) -> String {
    let attempts = retry.attempts.map_or_else(|| "default".to_string(), |n| n.to_string());
    let codes = if retry.codes.is_empty() { "none".to_string() } else { retry.codes.iter().map(u16::to_string).collect::<Vec<_>>().join(".") };
    format!("{}_retry_{attempts}_{codes}", backend_name(gateway, backend_id))
}

/// `fe_<ns>_<gw>_<port>`: one frontend per Gateway port.
pub(crate) fn frontend_name(gateway: &ObjectRef, port: u16) -> String {
    format!("fe_{}_{port}", gateway_part(gateway))
}

/// The combined (weighted servers) TCP-mode backend of the `index`-th L4 or SNI route of a port.
pub(crate) fn l4_backend_name(gateway: &ObjectRef, port: u16, index: usize) -> String {
    format!("l4_{}_{port}_{index}", gateway_part(gateway))
}

/// The file a Secret's PEM is written to, relative to the certificate directory.
pub(crate) fn cert_file_name(secret: &ObjectRef) -> String {
    format!("{}_{}.pem", esc(&secret.namespace), esc(&secret.name))
}
