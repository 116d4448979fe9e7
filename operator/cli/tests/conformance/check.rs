//! What a scenario can do: apply and delete manifests, read statuses, wait for conditions, and
//! send requests through HAProxy with expectations on what the echo backend saw.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;

use crate::world::World;

/// How long a status or traffic expectation may take to hold (upstream's defaults are longer;
/// a scenario here is expected to settle within seconds).
pub const SETTLE: Duration = Duration::from_secs(10);
/// Consecutive passes a traffic expectation must make once it holds (upstream: 3 by default).
const CONSECUTIVE: usize = 3;

pub type Outcome = Result<(), String>;

pub struct Ctx {
    pub world: World,
    /// Shared Gateway name -> its first address.
    pub addresses: BTreeMap<String, String>,
    /// HAProxyParameters `portOffset`: listener port P is served on `offset + P`.
    pub offset: u16,
}

/// Objects a scenario applied, deleted again when it ends.
pub struct Applied(pub Vec<Value>);

impl Ctx {
    /// Where HAProxy serves listener port `port` of Gateway address `address`.
    pub fn at(&self, address: &str, port: u16) -> SocketAddr {
        format!("{address}:{}", self.offset + port).parse().expect("socket address")
    }

    /// A shared Gateway's socket for listener port `port`.
    pub fn gw(&self, name: &str, port: u16) -> SocketAddr {
        self.at(self.addresses.get(name).map(String::as_str).unwrap_or("127.0.0.1"), port)
    }

    pub async fn apply(&self, yaml: &str) -> Result<Applied, String> {
        let mut objects = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc).map_err(|e| format!("manifest: {e}"))?;
            if !value.is_null() {
                objects.push(value);
            }
        }
        for value in &objects {
            portico_sandbox::apply(&self.world.client, value).await.map_err(|e| format!("apply {} {}: {e}", value["kind"], value["metadata"]["name"]))?;
        }
        Ok(Applied(objects))
    }

    pub async fn delete(&self, applied: Applied) {
        for object in applied.0.iter().rev() {
            if let Ok(api) = self.api_for(object).await {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let _ = api.delete(name, &DeleteParams::default()).await;
            }
        }
    }

    async fn api_for(&self, object: &Value) -> Result<Api<DynamicObject>, String> {
        let api_version = object["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or_default());
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.world.client, &gvk).await.map_err(|e| e.to_string())?;
        Ok(if capabilities.scope == kube::discovery::Scope::Namespaced {
            Api::namespaced_with(self.world.client.clone(), object["metadata"]["namespace"].as_str().unwrap_or("default"), &resource)
        } else {
            Api::all_with(self.world.client.clone(), &resource)
        })
    }

    /// The object as the API server has it (`Null` when absent).
    pub async fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Result<Value, String> {
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}});
        let api = self.api_for(&probe).await?;
        let object = api.get_opt(name).await.map_err(|e| e.to_string())?;
        Ok(object.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)).unwrap_or(Value::Null))
    }

    /// Poll `probe` until it passes or [`SETTLE`] runs out; the last error is the reason.
    pub async fn until<F, Fut>(&self, what: &str, mut probe: F) -> Outcome
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let deadline = Instant::now() + SETTLE;
        loop {
            match probe().await {
                Ok(()) => return Ok(()),
                Err(why) if Instant::now() >= deadline => return Err(format!("{what}: {why}")),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// A route's parent status for Gateway `gw_ns/gw` holds condition `ctype` with `status` (and
    /// `reason` unless empty).
    #[allow(clippy::too_many_arguments)]
    pub async fn route_condition(&self, kind: &str, ns: &str, name: &str, gw: (&str, &str), ctype: &str, status: &str, reason: &str) -> Outcome {
        self.until(&format!("{kind} {ns}/{name} {ctype}={status}/{reason}"), || async {
            let route = self.get(route_api_version(kind), kind, ns, name).await?;
            let parent = parent_status(&route, gw).ok_or_else(|| format!("no parent status for Gateway {}/{} in {}", gw.0, gw.1, route["status"]))?;
            has_condition(&parent["conditions"], ctype, status, reason)
        })
        .await
    }

    /// The route is Accepted and ResolvedRefs by Gateway `gw`.
    pub async fn route_accepted(&self, kind: &str, ns: &str, name: &str, gw: (&str, &str)) -> Outcome {
        self.route_condition(kind, ns, name, gw, "Accepted", "True", "Accepted").await?;
        self.route_condition(kind, ns, name, gw, "ResolvedRefs", "True", "ResolvedRefs").await
    }

    /// A Gateway's listener status passes `check`.
    pub async fn listener<F>(&self, ns: &str, gw: &str, listener: &str, check: F) -> Outcome
    where
        F: Fn(&Value) -> Outcome,
    {
        self.until(&format!("Gateway {ns}/{gw} listener {listener}"), || async {
            let gateway = self.get("gateway.networking.k8s.io/v1", "Gateway", ns, gw).await?;
            let listeners = gateway["status"]["listeners"].as_array().cloned().unwrap_or_default();
            let status = listeners.iter().find(|l| l["name"] == listener).ok_or_else(|| format!("no status for listener in {}", gateway["status"]))?;
            check(status).map_err(|why| format!("{why} (listener: {})", brief(status)))
        })
        .await
    }

    /// A Gateway's own conditions hold `ctype=status` (and `reason` unless empty).
    #[allow(dead_code)]
    pub async fn gateway_condition(&self, ns: &str, gw: &str, ctype: &str, status: &str, reason: &str) -> Outcome {
        self.until(&format!("Gateway {ns}/{gw} {ctype}={status}/{reason}"), || async {
            let gateway = self.get("gateway.networking.k8s.io/v1", "Gateway", ns, gw).await?;
            has_condition(&gateway["status"]["conditions"], ctype, status, reason)
        })
        .await
    }

    /// Wait for a Gateway to be Programmed; its first address.
    pub async fn programmed(&self, ns: &str, gw: &str) -> Result<String, String> {
        portico_sandbox::wait_programmed(&self.world.client, ns, gw, SETTLE).await.map_err(|e| e.to_string())
    }

    /// Send the request until the reply matched [`CONSECUTIVE`] times in a row within [`SETTLE`]
    /// (upstream's "eventually consistent response": a miss restarts the count).
    pub async fn traffic(&self, at: SocketAddr, expect: &Expect) -> Outcome {
        let headers: Vec<String> = expect.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        let what = format!("{} {}{} {headers:?} via {at}", expect.method, expect.host, expect.path);
        let deadline = Instant::now() + SETTLE;
        let (mut streak, mut misses_after_pass, mut passed_once) = (0, 0, false);
        let mut first_miss = String::new();
        loop {
            match expect.check(at).await {
                Ok(()) => {
                    streak += 1;
                    passed_once = true;
                    if streak >= CONSECUTIVE {
                        if misses_after_pass > 0 {
                            eprintln!("conformance: note: {what} missed {misses_after_pass} time(s) after it had passed, first: {first_miss}");
                        }
                        return Ok(());
                    }
                }
                Err(why) if Instant::now() >= deadline => return Err(format!("{what}: {why}")),
                Err(why) => {
                    if passed_once && first_miss.is_empty() {
                        first_miss = why;
                    }
                    streak = 0;
                    misses_after_pass += usize::from(passed_once);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Ctx {
    /// Apply `yaml`, run `body`, delete what was applied (whatever `body` found).
    pub async fn scoped<F, Fut>(&self, yaml: &str, body: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let applied = self.apply(yaml).await?;
        let outcome = body().await;
        self.delete(applied).await;
        outcome
    }

    /// A JSON merge patch of one object (lists in the patch replace the object's).
    pub async fn merge_patch(&self, api_version: &str, kind: &str, ns: &str, name: &str, patch: Value) -> Outcome {
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}});
        let api = self.api_for(&probe).await?;
        api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(patch))
            .await
            .map(|_| ())
            .map_err(|e| format!("patch {kind} {ns}/{name}: {e}"))
    }

    /// Run `probe` until it passed [`CONSECUTIVE`] times in a row within [`SETTLE`] (a miss
    /// restarts the count); the last miss is the reason.
    pub async fn consistently<F, Fut>(&self, what: &str, mut probe: F) -> Outcome
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let deadline = Instant::now() + SETTLE;
        let mut streak = 0;
        loop {
            match probe().await {
                Ok(()) => {
                    streak += 1;
                    if streak >= CONSECUTIVE {
                        return Ok(());
                    }
                }
                Err(why) if Instant::now() >= deadline => return Err(format!("{what}: {why}")),
                Err(_) => {
                    streak = 0;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Pod `pod` is one of Deployment `deployment`'s (`<deployment>-<hash>-<suffix>`), so that
/// `tls-backend` does not take `tls-backend-2`'s Pods for its own.
pub fn is_pod_of(pod: &str, deployment: &str) -> bool {
    pod.strip_prefix(deployment).and_then(|rest| rest.strip_prefix('-')).is_some_and(|rest| rest.split('-').count() == 2)
}

/// A listener status in a few words: kinds, conditions as type=status/reason, attached routes.
fn brief(status: &Value) -> String {
    let kinds: Vec<&str> = status["supportedKinds"].as_array().into_iter().flatten().filter_map(|k| k["kind"].as_str()).collect();
    let conditions: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{}={}/{}", c["type"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""), c["reason"].as_str().unwrap_or("")))
        .collect();
    format!("supportedKinds {kinds:?}, conditions [{}], attachedRoutes {}", conditions.join(", "), status["attachedRoutes"])
}

pub fn route_api_version(kind: &str) -> &'static str {
    match kind {
        "TCPRoute" | "UDPRoute" => "gateway.networking.k8s.io/v1alpha2",
        _ => "gateway.networking.k8s.io/v1",
    }
}

pub fn parent_status(route: &Value, gw: (&str, &str)) -> Option<Value> {
    let parents = route["status"]["parents"].as_array()?;
    parents
        .iter()
        .find(|p| {
            p["parentRef"]["name"] == gw.1
                && p["parentRef"]["namespace"].as_str().unwrap_or(route["metadata"]["namespace"].as_str().unwrap_or_default()) == gw.0
        })
        .cloned()
}

pub fn has_condition(conditions: &Value, ctype: &str, status: &str, reason: &str) -> Outcome {
    let found = conditions.as_array().and_then(|c| c.iter().find(|c| c["type"] == ctype)).ok_or_else(|| format!("no {ctype} condition in {conditions}"))?;
    if found["status"] != status || (!reason.is_empty() && found["reason"] != reason) {
        return Err(format!("{ctype} is {}/{} ({}), wanted {status}/{reason}", found["status"], found["reason"], found["message"]));
    }
    Ok(())
}

/// Check a listener status like upstream does: every expected kind is supported (none when
/// `kinds` is empty), the conditions hold, and exactly `attached` routes are counted.
pub fn listener_is(status: &Value, kinds: &[&str], conditions: &[(&str, &str, &str)], attached: i64) -> Outcome {
    for (ctype, value, reason) in conditions {
        has_condition(&status["conditions"], ctype, value, reason)?;
    }
    let supported: Vec<&str> = status["supportedKinds"].as_array().into_iter().flatten().filter_map(|k| k["kind"].as_str()).collect();
    if kinds.is_empty() && !supported.is_empty() {
        return Err(format!("supportedKinds should be empty, is {supported:?}"));
    }
    if let Some(missing) = kinds.iter().find(|k| !supported.contains(k)) {
        return Err(format!("supportedKinds {supported:?} lacks {missing}"));
    }
    let count = status["attachedRoutes"].as_i64().unwrap_or(-1);
    (count == attached).then_some(()).ok_or_else(|| format!("attachedRoutes is {count}, wanted {attached}"))
}

/// One request and what must come back (unset fields are not checked).
#[derive(Default, Clone)]
pub struct Expect {
    pub method: &'static str,
    pub host: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    /// The echo Pod's name starts with `<backend>-` (a Deployment's Pod).
    pub backend: Option<String>,
    pub namespace: Option<String>,
    /// What the backend saw.
    pub seen_path: Option<String>,
    pub seen_host: Option<String>,
    /// The SNI the backend saw (a TLS echo's `tls.serverName`).
    pub seen_sni: Option<String>,
    pub seen_headers: Vec<(String, String)>,
    pub seen_absent: Vec<String>,
    pub response_headers: Vec<(String, String)>,
    pub response_absent: Vec<String>,
    /// The `Location` of a redirect.
    pub location: Option<String>,
}

pub fn get(host: &str, path: &str) -> Expect {
    Expect { method: "GET", host: host.into(), path: path.into(), status: 200, ..Default::default() }
}

impl Expect {
    pub fn to(mut self, ns: &str, backend: &str) -> Self {
        self.namespace = Some(ns.into());
        self.backend = Some(backend.into());
        self
    }
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn saw_header(mut self, name: &str, value: &str) -> Self {
        self.seen_headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
    pub fn saw_no_header(mut self, name: &str) -> Self {
        self.seen_absent.push(name.to_ascii_lowercase());
        self
    }
    pub fn saw_path(mut self, path: &str) -> Self {
        self.seen_path = Some(path.into());
        self
    }
    pub fn saw_sni(mut self, name: &str) -> Self {
        self.seen_sni = Some(name.into());
        self
    }

    pub fn saw_host(mut self, host: &str) -> Self {
        self.seen_host = Some(host.into());
        self
    }
    /// Ask the echo backend to answer with this response header.
    pub fn backend_sets(mut self, name: &str, value: &str) -> Self {
        self.headers.push((portico_echo::SET_RESPONSE_HEADER.into(), format!("{name}={value}")));
        self
    }
    pub fn replies_header(mut self, name: &str, value: &str) -> Self {
        self.response_headers.push((name.into(), value.into()));
        self
    }
    pub fn replies_no_header(mut self, name: &str) -> Self {
        self.response_absent.push(name.into());
        self
    }
    pub fn redirect(mut self, status: u16, location: &str) -> Self {
        self.status = status;
        self.location = Some(location.into());
        self
    }

    async fn check(&self, at: SocketAddr) -> Outcome {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let reply = portico_sandbox::http_request(at, self.method, &self.host, &self.path, &headers).await.map_err(|e| e.to_string())?;
        let body = || reply.body.chars().take(160).collect::<String>();
        if reply.status != self.status {
            return Err(format!("HTTP {}, wanted {} ({})", reply.status, self.status, body()));
        }
        if let Some(location) = &self.location {
            let got = reply.header("location").unwrap_or_default();
            if got != location {
                return Err(format!("Location {got:?}, wanted {location:?}"));
            }
        }
        for (name, value) in &self.response_headers {
            let values: Vec<&str> = reply.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
            if values.join(",") != *value {
                return Err(format!("response header {name}: {values:?}, wanted {value:?}"));
            }
        }
        if let Some(name) = self.response_absent.iter().find(|n| reply.header(n).is_some()) {
            return Err(format!("response header {name} should be absent"));
        }
        let needs_echo = self.backend.is_some()
            || self.seen_path.is_some()
            || self.seen_host.is_some()
            || self.seen_sni.is_some()
            || !self.seen_headers.is_empty()
            || !self.seen_absent.is_empty();
        if !needs_echo {
            return Ok(());
        }
        let echo = reply.echo().ok_or_else(|| format!("no echo JSON in the reply ({})", body()))?;
        self.check_echo(&echo)
    }

    fn check_echo(&self, echo: &Value) -> Outcome {
        let pod = echo["pod"].as_str().unwrap_or_default();
        if let Some(backend) = &self.backend
            && !pod.starts_with(&format!("{backend}-"))
        {
            return Err(format!("answered by Pod {pod:?}, wanted one of {backend}"));
        }
        if let Some(ns) = &self.namespace
            && echo["namespace"] != ns.as_str()
        {
            return Err(format!("answered from namespace {}, wanted {ns}", echo["namespace"]));
        }
        if let Some(path) = &self.seen_path
            && echo["path"] != path.as_str()
        {
            return Err(format!("backend saw path {}, wanted {path:?}", echo["path"]));
        }
        if let Some(sni) = &self.seen_sni
            && echo["tls"]["serverName"] != sni.as_str()
        {
            return Err(format!("backend saw SNI {} over TLS, wanted {sni:?}", echo["tls"]));
        }
        if let Some(host) = &self.seen_host {
            let seen = echo["host"].as_str().unwrap_or_default();
            if seen.split(':').next() != Some(host.as_str()) {
                return Err(format!("backend saw host {seen:?}, wanted {host:?}"));
            }
        }
        for (name, value) in &self.seen_headers {
            let values: Vec<&str> = echo["headers"][name].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if values.join(",") != *value {
                return Err(format!("backend saw {name}: {values:?}, wanted {value:?}"));
            }
        }
        if let Some(name) = self.seen_absent.iter().find(|n| echo["headers"].get(n.as_str()).is_some()) {
            return Err(format!("backend saw header {name}, which should have been removed: {}", echo["headers"][name.as_str()]));
        }
        Ok(())
    }
}
