//! Deterministic, unique HAProxy identifiers. HAProxy allows letters, digits, `-`, `_`, `.` and
//! `:` in proxy names; Kubernetes names use lower-case letters, digits, `-` and `.`. Components are
//! escaped injectively (anything else becomes `:` plus hex bytes) and joined with `_`, which never
//! appears in an escaped component, so distinct inputs always give distinct names.

use portico_model::ir::{ObjectRef, Retry, SessionPersistence};

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

/// The copy of a backend that carries a rule's traffic policies (retry, session persistence);
/// rules with the same policies share it: `<backend>_policy_<digest of the policies>`, more
/// `_`-separated parts than any [`backend_name`], so no collision with one.
pub(crate) fn policy_backend_name(gateway: &ObjectRef, backend_id: &str, policy: &Policy<'_>) -> String {
    let text = serde_json::to_string(&(policy.retry, policy.session)).unwrap_or_default();
    // FNV-1a, 64 bits: stable across runs and builds (the name is part of the config).
    let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{}_policy_{digest:016x}", backend_name(gateway, backend_id))
}

/// A rule's traffic policies that need a backend of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Policy<'a> {
    pub(crate) retry: Option<&'a Retry>,
    pub(crate) session: Option<&'a SessionPersistence>,
}

impl<'a> Policy<'a> {
    /// The policies of a route entry; `None` when it has none (the shared backend serves it).
    pub(crate) fn of(entry: &'a portico_model::ir::HttpRouteEntry) -> Option<Policy<'a>> {
        let policy = Policy { retry: entry.retry.as_deref(), session: entry.session_persistence.as_deref() };
        (policy.retry.is_some() || policy.session.is_some()).then_some(policy)
    }
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
