//! Blast radius of one Gateway on a shared HAProxy: what to serve when `haproxy -c` rejects part
//! of the configuration.
//!
//! 1. All Gateways as they are now are checked together (one `haproxy -c`: the common case).
//! 2. If that fails, each changed Gateway is checked on its own. A Gateway that fails without any
//!    route is rejected as a whole (a certificate, a listener); otherwise its routes are bisected
//!    (only then, so the cost stays proportional to what is broken) and the routes HAProxy
//!    rejects are dropped while their neighbours are served.
//! 3. A rejected Gateway keeps its last accepted configuration, if it has one, and reports
//!    HAProxy's own alert text; every other Gateway gets its edits.
//! 4. The combination is checked once more; if it still fails, only last accepted
//!    configurations are served.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use portico_model::ir::{Gateway, ObjectRef, RouteKey, RouteSource};
use portico_provider::RouteOverflow;

use crate::check::{CheckFailure, Staging};
use crate::render::{GatewayInput, RenderSettings, render};

/// Most `haproxy -c` runs spent bisecting the routes of one Gateway.
const MAX_BISECTION_CHECKS: usize = 48;

/// One Gateway's configuration: its IR, its certificate material, its address.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub ir: std::sync::Arc<Gateway>,
    pub certificates: BTreeMap<ObjectRef, Vec<u8>>,
    pub address: IpAddr,
}

/// What to serve and what to tell each Gateway.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The parts to put in service (current, reduced or last accepted), by Gateway.
    pub serve: BTreeMap<ObjectRef, Part>,
    /// Per Gateway: the routes left out, or why HAProxy rejected it.
    pub outcome: BTreeMap<ObjectRef, Result<Vec<RouteOverflow>, String>>,
    /// The parts HAProxy rejected, with its alerts (not checked again while unchanged).
    pub rejected: BTreeMap<ObjectRef, (Part, String)>,
}

impl Verdict {
    /// `part` is rejected: its last accepted configuration (if any) stays in service.
    fn reject(&mut self, key: &ObjectRef, part: &Part, last_good: &BTreeMap<ObjectRef, Part>, alerts: String) {
        if let Some(good) = last_good.get(key) {
            self.serve.insert(key.clone(), good.clone());
        }
        self.rejected.insert(key.clone(), (part.clone(), alerts.clone()));
        self.outcome.insert(key.clone(), Err(alerts));
    }
}

pub struct Checker<'a> {
    pub binary: String,
    pub staging: &'a Path,
    pub settings: &'a RenderSettings,
}

impl Checker<'_> {
    /// Check a set of parts together, in a private staging directory.
    pub async fn check(&self, parts: &[&Part]) -> Result<(), CheckFailure> {
        let staging = Staging::new(self.staging, "check").map_err(|e| CheckFailure::CannotRun(format!("staging directory: {e}")))?;
        let settings = RenderSettings { cert_dir: staging.cert_dir(), ..self.settings.clone() };
        let (inputs, certificates) = inputs(parts);
        let rendered = render(&inputs, &certificates, &settings);
        staging.check(&self.binary, &rendered.config, &rendered.cert_files).await
    }

    /// Decide what to serve. `Err` only when the check itself cannot run. A Gateway that is
    /// exactly as HAProxy last rejected it is not checked again.
    pub async fn decide(
        &self,
        current: &BTreeMap<ObjectRef, Part>,
        last_good: &BTreeMap<ObjectRef, Part>,
        last_bad: &BTreeMap<ObjectRef, (Part, String)>,
    ) -> Result<Verdict, String> {
        let mut verdict = Verdict::default();
        let mut fresh = BTreeMap::new();
        for (key, part) in current {
            match last_bad.get(key) {
                Some((bad, alerts)) if bad == part => verdict.reject(key, part, last_good, alerts.clone()),
                _ => {
                    fresh.insert(key.clone(), part.clone());
                }
            }
        }
        let together: Vec<&Part> = fresh.values().chain(verdict.serve.values()).collect();
        match self.check(&together).await {
            Ok(()) => {
                for (key, part) in fresh {
                    verdict.outcome.insert(key.clone(), Ok(Vec::new()));
                    verdict.serve.insert(key, part);
                }
                return Ok(verdict);
            }
            Err(CheckFailure::CannotRun(message)) => return Err(message),
            Err(CheckFailure::Rejected(_)) => {}
        }
        for (key, part) in &fresh {
            if last_good.get(key) == Some(part) {
                verdict.serve.insert(key.clone(), part.clone());
                verdict.outcome.insert(key.clone(), Ok(Vec::new()));
                continue;
            }
            match self.one_gateway(part).await? {
                Ok((served, dropped)) => {
                    verdict.serve.insert(key.clone(), served);
                    verdict.outcome.insert(key.clone(), Ok(dropped));
                }
                Err(alerts) => verdict.reject(key, part, last_good, alerts),
            }
        }
        let composed: Vec<&Part> = verdict.serve.values().collect();
        match self.check(&composed).await {
            Ok(()) => Ok(verdict),
            Err(CheckFailure::CannotRun(message)) => Err(message),
            Err(CheckFailure::Rejected(alerts)) => Ok(self.last_good_only(current, last_good, &alerts).await),
        }
    }

    /// The parts fail only in combination: serve last accepted configurations only.
    async fn last_good_only(&self, current: &BTreeMap<ObjectRef, Part>, last_good: &BTreeMap<ObjectRef, Part>, alerts: &str) -> Verdict {
        let mut verdict = Verdict::default();
        for (key, part) in current {
            if last_good.get(key) == Some(part) {
                verdict.serve.insert(key.clone(), part.clone());
                verdict.outcome.insert(key.clone(), Ok(Vec::new()));
            } else {
                verdict.reject(key, part, last_good, format!("together with the other Gateways on this HAProxy: {alerts}"));
            }
        }
        verdict
    }

    /// One Gateway on its own: `Ok((what to serve, routes dropped))` or `Err(alerts)`.
    async fn one_gateway(&self, part: &Part) -> Result<Result<(Part, Vec<RouteOverflow>), String>, String> {
        let alerts = match self.check(&[part]).await {
            Ok(()) => return Ok(Ok((part.clone(), Vec::new()))),
            Err(CheckFailure::CannotRun(message)) => return Err(message),
            Err(CheckFailure::Rejected(alerts)) => alerts,
        };
        let routes: Vec<RouteKey> = route_keys(&part.ir).into_iter().collect();
        let bare = restricted(part, &BTreeSet::new());
        if routes.is_empty() || self.check(&[&bare]).await.is_err() {
            return Ok(Err(alerts));
        }
        let bad = self.bisect(part, routes).await;
        let bad_keys: BTreeSet<RouteKey> = bad.iter().map(|r| r.route.clone()).collect();
        let keep: BTreeSet<RouteKey> = route_keys(&part.ir).difference(&bad_keys).cloned().collect();
        let reduced = restricted(part, &keep);
        if bad.is_empty() || self.check(&[&reduced]).await.is_err() {
            return Ok(Err(alerts));
        }
        Ok(Ok((reduced, bad)))
    }

    /// The routes HAProxy rejects on their own (each with its alert text), by halving.
    async fn bisect(&self, part: &Part, routes: Vec<RouteKey>) -> Vec<RouteOverflow> {
        let mut bad = Vec::new();
        let mut todo = vec![routes];
        let mut checks = 0;
        while let Some(set) = todo.pop() {
            if checks >= MAX_BISECTION_CHECKS {
                break;
            }
            checks += 1;
            let keep: BTreeSet<RouteKey> = set.iter().cloned().collect();
            let alerts = match self.check(&[&restricted(part, &keep)]).await {
                Ok(()) | Err(CheckFailure::CannotRun(_)) => continue,
                Err(CheckFailure::Rejected(alerts)) => alerts,
            };
            if set.len() == 1 {
                bad.push(RouteOverflow { route: set[0].clone(), message: format!("haproxy -c rejected it: {alerts}") });
            } else {
                let (left, right) = set.split_at(set.len() / 2);
                todo.push(right.to_vec());
                todo.push(left.to_vec());
            }
        }
        bad
    }
}

/// Render inputs and the certificates they use (later parts win for a shared Secret).
pub fn inputs<'a>(parts: &[&'a Part]) -> (Vec<GatewayInput<'a>>, BTreeMap<ObjectRef, Vec<u8>>) {
    let inputs = parts.iter().map(|p| GatewayInput { ir: &p.ir, address: p.address }).collect();
    let certificates = parts.iter().flat_map(|p| p.certificates.clone()).collect();
    (inputs, certificates)
}

fn route_key(source: &RouteSource) -> RouteKey {
    source.route()
}

/// `Kind/namespace/name` of every route on the Gateway.
pub fn route_keys(ir: &Gateway) -> BTreeSet<RouteKey> {
    let mut out = BTreeSet::new();
    for port in &ir.ports {
        out.extend(port.virtual_hosts.iter().flat_map(|v| &v.routes).map(|e| route_key(&e.source)));
        out.extend(port.tls_routes.iter().map(|r| route_key(&r.source)));
        out.extend(port.l4_routes.iter().map(|r| route_key(&r.source)));
    }
    out
}

/// The part with only the routes in `keep`.
fn restricted(part: &Part, keep: &BTreeSet<RouteKey>) -> Part {
    let mut out = part.clone();
    for port in &mut std::sync::Arc::make_mut(&mut out.ir).ports {
        for vhost in &mut port.virtual_hosts {
            vhost.routes.retain(|e| keep.contains(&route_key(&e.source)));
        }
        port.tls_routes.retain(|r| keep.contains(&route_key(&r.source)));
        port.l4_routes.retain(|r| keep.contains(&route_key(&r.source)));
    }
    out
}

/// Tests with the real `haproxy -c` (moved beside the code they test).
#[cfg(test)]
mod tests {
    // Blast radius with the real `haproxy -c`: a route HAProxy rejects is dropped from its Gateway
    // (with HAProxy's words) while its neighbour and the other Gateway are served; a Gateway whose
    // certificate HAProxy rejects keeps its last accepted configuration. Set `PORTICO_SKIP_HAPROXY=1`
    // to skip when HAProxy is not installed.

    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::{Checker, Part, route_keys};
    use crate::render::RenderSettings;
    use portico_model::ir::{Gateway, ObjectRef};
    use serde_json::json;

    fn route(name: &str, path: serde_json::Value) -> serde_json::Value {
        json!({ "source": { "kind": "HTTPRoute", "namespace": "t", "name": name, "rule": 0, "match": 0 },
            "match": { "path": path, "headers": [], "queryParams": [] }, "filters": [],
            "action": { "type": "FixedResponse", "status": 200, "reason": "ok" } })
    }

    fn gateway(name: &str, routes: Vec<serde_json::Value>, certificates: serde_json::Value) -> Gateway {
        let protocol = if certificates.as_array().is_some_and(|c| !c.is_empty()) { "HTTPS" } else { "HTTP" };
        serde_json::from_value(json!({
            "gateway": { "namespace": "t", "name": name }, "gatewayClass": "haproxy", "provider": "haproxy",
            "requestedAddresses": [], "infrastructureLabels": {}, "backends": {},
            "ports": [{ "port": 80, "protocol": protocol, "listeners": ["l"], "certificates": certificates, "tlsRoutes": [], "l4Routes": [],
                "virtualHosts": [{ "hostname": "*", "listener": "l", "routes": routes }] }]
        }))
        .unwrap()
    }

    fn part(ir: Gateway, last_octet: u8, certificates: BTreeMap<ObjectRef, Vec<u8>>) -> Part {
        Part { ir: ir.into(), certificates, address: format!("127.0.0.{last_octet}").parse().unwrap() }
    }

    fn setup(name: &str) -> (PathBuf, RenderSettings) {
        let dir = std::env::temp_dir().join(format!("portico-isolate-{name}-{}", std::process::id()));
        let settings = RenderSettings {
            cert_dir: dir.join("certs"),
            port_offset: 30000,
            timeout_connect_ms: 1000,
            timeout_client_ms: 1000,
            timeout_server_ms: 1000,
            runtime_socket: dir.join("runtime.sock"),
        };
        (dir, settings)
    }

    #[tokio::test]
    async fn a_rejected_route_is_dropped_and_its_neighbours_served() {
        if std::env::var_os("PORTICO_SKIP_HAPROXY").is_some() {
            return;
        }
        let (dir, settings) = setup("route");
        let checker = Checker { binary: "haproxy".into(), staging: &dir, settings: &settings };
        let routes = (0..6).map(|i| route(&format!("good-{i}"), json!({ "type": "Prefix", "value": format!("/p{i}") })));
        let mut all: Vec<_> = routes.collect();
        all.insert(3, route("bad", json!({ "type": "RegularExpression", "value": "a{2}{3}" })));
        let mut current = BTreeMap::new();
        current.insert(ObjectRef::new("t", "tenant"), part(gateway("tenant", all, json!([])), 2, BTreeMap::new()));
        current.insert(
            ObjectRef::new("t", "victim"),
            part(gateway("victim", vec![route("v", json!({ "type": "Prefix", "value": "/" }))], json!([])), 3, BTreeMap::new()),
        );
        let verdict = checker.decide(&current, &BTreeMap::new(), &BTreeMap::new()).await.unwrap();
        let dropped = verdict.outcome[&ObjectRef::new("t", "tenant")].clone().unwrap();
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(dropped[0].route.id(), "HTTPRoute/t/bad");
        assert!(dropped[0].message.contains("quantifier does not follow a repeatable item"), "HAProxy's words: {}", dropped[0].message);
        let served = route_keys(&verdict.serve[&ObjectRef::new("t", "tenant")].ir);
        assert_eq!(served.len(), 6, "the six good routes stay: {served:?}");
        assert!(verdict.outcome[&ObjectRef::new("t", "victim")].is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_rejected_certificate_keeps_the_last_accepted_configuration() {
        if std::env::var_os("PORTICO_SKIP_HAPROXY").is_some() {
            return;
        }
        let (dir, settings) = setup("cert");
        let checker = Checker { binary: "haproxy".into(), staging: &dir, settings: &settings };
        let secret = ObjectRef::new("t", "cert");
        let binding = json!([{ "hostname": "*", "listener": "l", "secrets": [{ "namespace": "t", "name": "cert" }] }]);
        let garbage =
            b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n"
                .to_vec();
        let plain = part(gateway("tenant", vec![route("r", json!({ "type": "Prefix", "value": "/" }))], json!([])), 2, BTreeMap::new());
        let broken = part(gateway("tenant", vec![route("r", json!({ "type": "Prefix", "value": "/" }))], binding), 2, [(secret, garbage)].into());
        let key = ObjectRef::new("t", "tenant");
        let last_good: BTreeMap<_, _> = [(key.clone(), plain.clone())].into();
        let verdict = checker.decide(&[(key.clone(), broken)].into(), &last_good, &BTreeMap::new()).await.unwrap();
        let alerts = verdict.outcome[&key].clone().unwrap_err();
        assert!(alerts.contains("unable to load certificate"), "HAProxy's words: {alerts}");
        assert!(!alerts.contains(&dir.display().to_string()), "no staging path in the message: {alerts}");
        assert_eq!(verdict.serve[&key], plain, "the last accepted configuration stays in service");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
