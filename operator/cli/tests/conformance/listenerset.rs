//! ListenerSet scenarios (upstream's `ListenerSet*` tests, v1.6.1): which ListenerSets a Gateway
//! takes, conflicts settled by precedence (the Gateway, then older ListenerSets), routes attached
//! through a ListenerSet parent (and never through the Gateway), `allowedRoutes` relative to the
//! ListenerSet's namespace, certificates through a ReferenceGrant from kind ListenerSet, and the
//! traffic HAProxy serves on the merged listeners.

use serde_json::Value;

use crate::base::{CLASS, INFRA, WEB};
use crate::check::{Ctx, Outcome, get, has_condition, listener_is, parent_status};

const GROUP: &str = "gateway.networking.k8s.io";

/// Conditions of a listener that works.
const GOOD: &[(&str, &str, &str)] = &[("Accepted", "True", "Accepted"), ("ResolvedRefs", "True", "ResolvedRefs"), ("Programmed", "True", "Programmed")];

/// Conditions of a listener that lost a conflict (`reason`) to one of higher precedence.
fn conflicted(reason: &'static str) -> [(&'static str, &'static str, &'static str); 3] {
    [("Accepted", "False", reason), ("Conflicted", "True", reason), ("Programmed", "False", reason)]
}

fn gateway(name: &str, allowed: &str, listeners: &[&str]) -> String {
    let allowed = if allowed.is_empty() { String::new() } else { format!("  allowedListeners: {{namespaces: {allowed}}}\n") };
    let listeners: String = listeners.iter().map(|l| format!("  - {l}\n")).collect();
    format!(
        "---\napiVersion: {GROUP}/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n{allowed}  listeners:\n{listeners}"
    )
}

fn set(name: &str, ns: &str, gw: &str, listeners: &[&str]) -> String {
    let listeners: String = listeners.iter().map(|l| format!("  - {l}\n")).collect();
    format!(
        "---\napiVersion: {GROUP}/v1\nkind: ListenerSet\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  parentRef: {{group: {GROUP}, kind: Gateway, name: {gw}, namespace: {INFRA}}}\n  listeners:\n{listeners}"
    )
}

fn http(name: &str, hostname: &str, from: &str) -> String {
    format!("{{name: {name}, port: 80, protocol: HTTP, hostname: {hostname}, allowedRoutes: {{namespaces: {{from: {from}}}}}}}")
}

/// An HTTPRoute with one PathPrefix rule to `backend`; `parents` as YAML flow items.
fn route(name: &str, ns: &str, parents: &[String], path: &str, backend: &str) -> String {
    format!(
        "---\napiVersion: {GROUP}/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  parentRefs: [{}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: [{{name: {backend}, namespace: {INFRA}, port: 8080}}]\n",
        parents.join(", ")
    )
}

fn via_set(name: &str, ns: &str, section: Option<&str>) -> String {
    let section = section.map(|s| format!(", sectionName: {s}")).unwrap_or_default();
    format!("{{group: {GROUP}, kind: ListenerSet, name: {name}, namespace: {ns}{section}}}")
}

fn via_gateway(name: &str, section: Option<&str>) -> String {
    let section = section.map(|s| format!(", sectionName: {s}")).unwrap_or_default();
    format!("{{group: {GROUP}, kind: Gateway, name: {name}, namespace: {INFRA}{section}}}")
}

fn namespace(name: &str, labels: &str) -> String {
    format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n")
}

/// Routes in other namespaces reach the base's Services through this grant.
fn backend_grant(namespaces: &[&str]) -> String {
    let from: Vec<String> = namespaces.iter().map(|ns| format!("{{group: {GROUP}, kind: HTTPRoute, namespace: {ns}}}")).collect();
    format!(
        "---\napiVersion: {GROUP}/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: listenerset-routes-to-infra, namespace: {INFRA}}}\nspec:\n  from: [{}]\n  to: [{{group: \"\", kind: Service}}]\n",
        from.join(", ")
    )
}

impl Ctx {
    async fn listener_set(&self, ns: &str, name: &str) -> Result<Value, String> {
        self.get(&format!("{GROUP}/v1"), "ListenerSet", ns, name).await
    }

    /// A ListenerSet's own condition `ctype` is `status` (with `reason` unless empty).
    async fn set_condition(&self, ns: &str, name: &str, ctype: &str, status: &str, reason: &str) -> Outcome {
        self.until(&format!("ListenerSet {ns}/{name} {ctype}={status}/{reason}"), || async {
            let set = self.listener_set(ns, name).await?;
            has_condition(&set["status"]["conditions"], ctype, status, reason)
        })
        .await
    }

    /// A ListenerSet is attached (Accepted with any reason, Programmed) or not (`reason` on both).
    async fn set_attached(&self, ns: &str, name: &str) -> Outcome {
        self.set_condition(ns, name, "Accepted", "True", "").await?;
        self.set_condition(ns, name, "Programmed", "True", "Programmed").await
    }

    async fn set_refused(&self, ns: &str, name: &str, reason: &str) -> Outcome {
        self.set_condition(ns, name, "Accepted", "False", reason).await?;
        self.set_condition(ns, name, "Programmed", "False", reason).await
    }

    /// One listener of a ListenerSet holds `conditions` (and counts `attached` routes unless None).
    async fn set_listener(&self, ns: &str, name: &str, listener: &str, conditions: &[(&str, &str, &str)], attached: Option<i64>) -> Outcome {
        self.until(&format!("ListenerSet {ns}/{name} listener {listener}"), || async {
            let set = self.listener_set(ns, name).await?;
            let listeners = set["status"]["listeners"].as_array().cloned().unwrap_or_default();
            let status = listeners.iter().find(|l| l["name"] == listener).ok_or_else(|| format!("no status for the listener in {}", set["status"]))?;
            match attached {
                Some(n) => listener_is(status, &[], conditions, n).or_else(|e| if e.starts_with("supportedKinds should be empty") { Ok(()) } else { Err(e) }),
                None => conditions.iter().try_for_each(|(t, s, r)| has_condition(&status["conditions"], t, s, r)),
            }
        })
        .await
    }

    /// `status.attachedListenerSets` of a Gateway (absent counts as 0, as upstream's helper does).
    async fn attached_sets(&self, gw: &str, want: i64) -> Outcome {
        self.until(&format!("Gateway {INFRA}/{gw} attachedListenerSets={want}"), || async {
            let gateway = self.get(&format!("{GROUP}/v1"), "Gateway", INFRA, gw).await?;
            let count = gateway["status"]["attachedListenerSets"].as_i64().unwrap_or(0);
            (count == want).then_some(()).ok_or_else(|| format!("attachedListenerSets is {count}"))
        })
        .await
    }

    /// A route's parent entry for `(ns, name)` of `kind` holds `ctype=status/reason`.
    async fn parent_condition(&self, route: (&str, &str), parent: (&str, &str, &str), ctype: &str, status: &str, reason: &str) -> Outcome {
        let (kind, ns, name) = parent;
        self.until(&format!("HTTPRoute {}/{} parent {kind} {ns}/{name} {ctype}={status}/{reason}", route.0, route.1), || async {
            let object = self.get(&format!("{GROUP}/v1"), "HTTPRoute", route.0, route.1).await?;
            let entry = parent_status(&object, (ns, name)).ok_or_else(|| format!("no parent entry in {}", object["status"]))?;
            if entry["parentRef"]["kind"] != kind || entry["parentRef"]["group"] != GROUP {
                return Err(format!("the parent entry names {} {}, not {GROUP} {kind}", entry["parentRef"]["group"], entry["parentRef"]["kind"]));
            }
            has_condition(&entry["conditions"], ctype, status, reason)
        })
        .await
    }
}

/// ListenerSetDefaultNotAllowed and ListenerSetAllowedNamespaceNone: a Gateway without
/// `allowedListeners` (or with `from: None`) takes no ListenerSet.
pub async fn not_allowed(c: &Ctx, allowed: &'static str) -> Outcome {
    let gw = if allowed.is_empty() { "gateway-takes-no-listenersets" } else { "gateway-takes-none-listenersets" };
    let yaml = [
        gateway(gw, allowed, &[&http("gateway-listener", "gateway-listener.com", "All")]),
        set("refused-listenerset", INFRA, gw, &[&http("extra", "extra.com", "All")]),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.set_refused(INFRA, "refused-listenerset", "NotAllowed").await?;
        c.attached_sets(gw, 0).await
    })
    .await
}

/// ListenerSetAllowedNamespaceSame and ListenerSetAllowedNamespaceSelector: the ListenerSet in an
/// allowed namespace is attached and serves traffic; the other is NotAllowed.
pub async fn allowed_namespaces(c: &Ctx, selector: bool) -> Outcome {
    // Names of their own per variant: a Gateway or Namespace still being deleted is not reused.
    let (gw, other_ns) = if selector {
        ("gateway-takes-selected-listenersets", "listenerset-unselected-ns")
    } else {
        ("gateway-takes-same-listenersets", "listenerset-other-ns")
    };
    let (allowed, good_ns) =
        if selector { ("{from: Selector, selector: {matchLabels: {allowed: ns}}}", "listenerset-selected-ns") } else { ("{from: Same}", INFRA) };
    let yaml = [
        namespace("listenerset-selected-ns", "allowed: ns"),
        namespace(other_ns, ""),
        gateway(gw, allowed, &[&http("gateway-listener", "gateway-listener.com", "All")]),
        set("allowed-listenerset", good_ns, gw, &[&http("allowed-listener", "allowed-listener.com", "All")]),
        set("other-listenerset", other_ns, gw, &[&http("other-listener", "other-listener.com", "All")]),
        route("to-allowed", good_ns, &[via_set("allowed-listenerset", good_ns, None)], "/", "infra-backend-v1"),
        backend_grant(&[good_ns]),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.set_attached(good_ns, "allowed-listenerset").await?;
        c.set_listener(good_ns, "allowed-listenerset", "allowed-listener", GOOD, Some(1)).await?;
        c.set_refused(other_ns, "other-listenerset", "NotAllowed").await?;
        c.attached_sets(gw, 1).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        c.traffic(at, &get("allowed-listener.com", "/").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get("other-listener.com", "/").status(404)).await
    })
    .await
}

/// ListenerSetProtocolConflict and ListenerSetHostnameConflict: the Gateway's listeners and the
/// alphabetically first ListenerSet win; the later listener is the one Conflicted, and a
/// ListenerSet with nothing else is not attached. The winners serve traffic.
pub async fn conflicts(c: &Ctx, protocol: bool) -> Outcome {
    let gw = if protocol { "gateway-with-listenerset-protocol-conflict" } else { "gateway-with-listenerset-hostname-conflict" };
    let reason = if protocol { "ProtocolConflict" } else { "HostnameConflict" };
    let clash = |name: &str, host: &str| if protocol { format!("{{name: {name}, port: 80, protocol: TCP}}") } else { http(name, host, "Same") };
    let yaml = [
        gateway(
            gw,
            "{from: Same}",
            &[&http("gateway-listener", "gateway-listener.com", "Same"), &http("clash-with-gateway", "clash-with-gateway.com", "Same")],
        ),
        set(
            "ls-a-with-gateway",
            INFRA,
            gw,
            &[
                &http("ls-a-listener", "ls-a-listener.com", "Same"),
                &clash("clash-with-gateway", "clash-with-gateway.com"),
                &http("clash-with-set", "clash-with-set.com", "Same"),
            ],
        ),
        set("ls-b-only-gateway-clash", INFRA, gw, &[&clash("clash-with-gateway", "clash-with-gateway.com")]),
        set("ls-c-with-set", INFRA, gw, &[&http("ls-c-listener", "ls-c-listener.com", "Same"), &clash("clash-with-set", "clash-with-set.com")]),
        set("ls-d-only-set-clash", INFRA, gw, &[&clash("clash-with-set", "clash-with-set.com")]),
        route(
            "to-winners",
            INFRA,
            &[via_gateway(gw, None), via_set("ls-a-with-gateway", INFRA, None), via_set("ls-c-with-set", INFRA, None)],
            "/",
            "infra-backend-v1",
        ),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.gateway_condition(INFRA, gw, "Accepted", "True", "").await?;
        for listener in ["gateway-listener", "clash-with-gateway"] {
            c.listener(INFRA, gw, listener, |l| listener_is(l, &[], GOOD, 1).or_else(|e| if e.starts_with("supportedKinds") { Ok(()) } else { Err(e) }))
                .await?;
        }
        c.set_attached(INFRA, "ls-a-with-gateway").await?;
        c.set_listener(INFRA, "ls-a-with-gateway", "ls-a-listener", GOOD, None).await?;
        c.set_listener(INFRA, "ls-a-with-gateway", "clash-with-gateway", &conflicted(reason), None).await?;
        c.set_listener(INFRA, "ls-a-with-gateway", "clash-with-set", GOOD, None).await?;
        c.set_refused(INFRA, "ls-b-only-gateway-clash", "ListenersNotValid").await?;
        c.set_listener(INFRA, "ls-b-only-gateway-clash", "clash-with-gateway", &conflicted(reason), None).await?;
        c.set_attached(INFRA, "ls-c-with-set").await?;
        c.set_listener(INFRA, "ls-c-with-set", "ls-c-listener", GOOD, None).await?;
        c.set_listener(INFRA, "ls-c-with-set", "clash-with-set", &conflicted(reason), None).await?;
        c.set_refused(INFRA, "ls-d-only-set-clash", "ListenersNotValid").await?;
        c.set_listener(INFRA, "ls-d-only-set-clash", "clash-with-set", &conflicted(reason), None).await?;
        c.attached_sets(gw, 2).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        for host in ["gateway-listener.com", "clash-with-gateway.com", "ls-a-listener.com", "clash-with-set.com", "ls-c-listener.com"] {
            c.traffic(at, &get(host, "/").to(INFRA, "infra-backend-v1")).await?;
        }
        Ok(())
    })
    .await
}

/// ListenerSetHTTPRouting: a route through the Gateway reaches only the Gateway's listeners, a
/// route through a ListenerSet only that set's (a sectionName only that listener); one route with
/// all three parents reaches every hostname.
pub async fn http_routing(c: &Ctx) -> Outcome {
    let gw = "gateway-with-listener-sets-http-routing";
    let (one, two) = ("listener-set-routing-1", "listener-set-routing-2");
    let yaml = [
        gateway(
            gw,
            "{from: All}",
            &[&http("gateway-listener-1", "gateway-listener-1.com", "All"), &http("gateway-listener-2", "gateway-listener-2.com", "All")],
        ),
        set(one, INFRA, gw, &[&http("set-1-listener-1", "set-1-listener-1.com", "All"), &http("set-1-listener-2", "set-1-listener-2.com", "All")]),
        set(two, INFRA, gw, &[&http("set-2-listener-1", "set-2-listener-1.com", "All"), &http("set-2-listener-2", "set-2-listener-2.com", "All")]),
        route("everywhere", INFRA, &[via_gateway(gw, None), via_set(one, INFRA, None), via_set(two, INFRA, None)], "/route", "infra-backend-v1"),
        route("gateway-only", INFRA, &[via_gateway(gw, None)], "/gateway-route", "infra-backend-v2"),
        route("gateway-section", INFRA, &[via_gateway(gw, Some("gateway-listener-1"))], "/gateway-section-route", "infra-backend-v3"),
        route("set-1-only", INFRA, &[via_set(one, INFRA, None)], "/set-1-route", "infra-backend-v2"),
        route("set-1-section", INFRA, &[via_set(one, INFRA, Some("set-1-listener-1"))], "/set-1-section-route", "infra-backend-v3"),
        route("set-2-only", INFRA, &[via_set(two, INFRA, None)], "/set-2-route", "infra-backend-v2"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.attached_sets(gw, 2).await?;
        for (name, listener, routes) in [(one, "set-1-listener-1", 3), (one, "set-1-listener-2", 2), (two, "set-2-listener-1", 2), (two, "set-2-listener-2", 2)]
        {
            c.set_listener(INFRA, name, listener, GOOD, Some(routes)).await?;
        }
        for route in ["everywhere", "set-1-only", "set-1-section"] {
            c.parent_condition((INFRA, route), ("ListenerSet", INFRA, one), "Accepted", "True", "Accepted").await?;
        }
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        let hosts = [
            "gateway-listener-1.com",
            "gateway-listener-2.com",
            "set-1-listener-1.com",
            "set-1-listener-2.com",
            "set-2-listener-1.com",
            "set-2-listener-2.com",
        ];
        let reaches: [(&str, &str, &[usize]); 6] = [
            ("/route", "infra-backend-v1", &[0, 1, 2, 3, 4, 5]),
            ("/gateway-route", "infra-backend-v2", &[0, 1]),
            ("/gateway-section-route", "infra-backend-v3", &[0]),
            ("/set-1-route", "infra-backend-v2", &[2, 3]),
            ("/set-1-section-route", "infra-backend-v3", &[2]),
            ("/set-2-route", "infra-backend-v2", &[4, 5]),
        ];
        for (path, backend, served) in reaches {
            for (i, host) in hosts.iter().enumerate() {
                let expect = if served.contains(&i) { get(host, path).to(INFRA, backend) } else { get(host, path).status(404) };
                c.traffic(at, &expect).await?;
            }
        }
        Ok(())
    })
    .await
}

/// ListenerSetAllowedRoutesNamespaces: `allowedRoutes` of ListenerSet listeners (All, Same,
/// Selector) count and route as the Gateway's do, `Same` meaning the ListenerSet's namespace.
pub async fn allowed_routes_namespaces(c: &Ctx) -> Outcome {
    let gw = "gateway-with-listener-sets-allowed-routes";
    let (ls, cross) = ("listenerset-allowed-routes", "listenerset-allowed-routes-cross-ns");
    let selector = "{name: routes-selector, port: 80, protocol: HTTP, hostname: routes-selector.com, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {allowed: ns}}}}}";
    let yaml = [
        namespace("listenerset-routes-allowed-ns", "allowed: ns"),
        namespace("listenerset-routes-other-ns", ""),
        namespace("listenerset-cross-ns", ""),
        gateway(gw, "{from: All}", &[&http("gateway-listener", "gateway-listener.com", "All")]),
        set(ls, INFRA, gw, &[&http("routes-all", "routes-all.com", "All"), &http("routes-same", "routes-same.com", "Same"), selector]),
        set(cross, "listenerset-cross-ns", gw, &[&http("cross-same", "cross-same.com", "Same")]),
        route("route-in-same-namespace", INFRA, &[via_set(ls, INFRA, None)], "/same", "infra-backend-v1"),
        route("route-in-selected-namespace", "listenerset-routes-allowed-ns", &[via_set(ls, INFRA, None)], "/selected", "infra-backend-v2"),
        route("route-not-selected", "listenerset-routes-other-ns", &[via_set(ls, INFRA, None)], "/not-selected", "infra-backend-v3"),
        route("route-in-set-namespace", "listenerset-cross-ns", &[via_set(cross, "listenerset-cross-ns", None)], "/set-namespace", "infra-backend-v1"),
        route("route-in-gateway-namespace", INFRA, &[via_set(cross, "listenerset-cross-ns", None)], "/gateway-namespace", "infra-backend-v2"),
        backend_grant(&["listenerset-routes-allowed-ns", "listenerset-routes-other-ns", "listenerset-cross-ns"]),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.attached_sets(gw, 2).await?;
        c.set_listener(INFRA, ls, "routes-all", GOOD, Some(3)).await?;
        c.set_listener(INFRA, ls, "routes-same", GOOD, Some(1)).await?;
        c.set_listener(INFRA, ls, "routes-selector", GOOD, Some(1)).await?;
        c.set_listener("listenerset-cross-ns", cross, "cross-same", GOOD, Some(1)).await?;
        c.parent_condition((INFRA, "route-in-gateway-namespace"), ("ListenerSet", "listenerset-cross-ns", cross), "Accepted", "False", "NotAllowedByListeners")
            .await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        let cases = [
            ("routes-all.com", "/same", Some("infra-backend-v1")),
            ("routes-all.com", "/selected", Some("infra-backend-v2")),
            ("routes-all.com", "/not-selected", Some("infra-backend-v3")),
            ("routes-same.com", "/same", Some("infra-backend-v1")),
            ("routes-same.com", "/selected", None),
            ("routes-same.com", "/not-selected", None),
            ("routes-selector.com", "/same", None),
            ("routes-selector.com", "/selected", Some("infra-backend-v2")),
            ("routes-selector.com", "/not-selected", None),
            ("cross-same.com", "/set-namespace", Some("infra-backend-v1")),
            ("cross-same.com", "/gateway-namespace", None),
            ("gateway-listener.com", "/same", None),
        ];
        for (host, path, backend) in cases {
            let expect = match backend {
                Some(b) => get(host, path).to(INFRA, b),
                None => get(host, path).status(404),
            };
            c.traffic(at, &expect).await?;
        }
        Ok(())
    })
    .await
}

/// ListenerSetAllowedRoutesSupportedKinds: a TLS listener that allows only HTTPRoute supports no
/// kind (ResolvedRefs=False/InvalidRouteKinds).
pub async fn allowed_routes_supported_kinds(c: &Ctx) -> Outcome {
    let gw = "gateway-with-listener-sets-supported-kinds";
    let tls = "{name: tls-only, port: 443, protocol: TLS, hostname: tls-only.com, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}]}}";
    let yaml = [gateway(gw, "{from: All}", &[&http("gateway-listener", "gateway-listener.com", "All")]), set("listenerset-supported-kinds", INFRA, gw, &[tls])]
        .concat();
    c.scoped(&yaml, || async {
        c.set_listener(INFRA, "listenerset-supported-kinds", "tls-only", &[("ResolvedRefs", "False", "InvalidRouteKinds")], Some(0)).await?;
        let set = c.listener_set(INFRA, "listenerset-supported-kinds").await?;
        let kinds = &set["status"]["listeners"][0]["supportedKinds"];
        kinds.as_array().is_none_or(Vec::is_empty).then_some(()).ok_or_else(|| format!("supportedKinds should be empty, is {kinds}"))
    })
    .await
}

/// ListenerSetReferenceGrant: a certificate in another namespace needs a grant from kind
/// ListenerSet (the Gateway's own grant does not carry over); the granted listener serves HTTPS.
pub async fn reference_grant(c: &Ctx) -> Outcome {
    let gw = "gateway-with-listener-sets-reference-grant";
    let https = |name: &str, host: &str| {
        format!(
            "{{name: {name}, port: 443, protocol: HTTPS, hostname: {host}, allowedRoutes: {{namespaces: {{from: All}}}}, tls: {{certificateRefs: [{{group: \"\", kind: Secret, name: certificate, namespace: {WEB}}}]}}}}"
        )
    };
    let grant = |name: &str, kind: &str, ns: &str| {
        format!(
            "---\napiVersion: {GROUP}/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: {name}, namespace: {WEB}}}\nspec:\n  from: [{{group: {GROUP}, kind: {kind}, namespace: {ns}}}]\n  to: [{{group: \"\", kind: Secret}}]\n"
        )
    };
    let yaml = [
        namespace("listenerset-without-grant-ns", ""),
        gateway(gw, "{from: All}", &[&https("gateway-listener", "gateway-listener.example.com")]),
        grant("listenerset-test-grant-for-gateway", "Gateway", INFRA),
        set("listenerset-with-grant", INFRA, gw, &[&https("with-grant", "with-grant.example.com")]),
        grant("listenerset-test-grant-for-set", "ListenerSet", INFRA),
        set("listenerset-without-grant", "listenerset-without-grant-ns", gw, &[&https("without-grant", "without-grant.example.com")]),
        route("to-granted", INFRA, &[via_set("listenerset-with-grant", INFRA, None)], "/", "infra-backend-v1"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.set_attached(INFRA, "listenerset-with-grant").await?;
        c.set_listener(INFRA, "listenerset-with-grant", "with-grant", GOOD, None).await?;
        c.set_refused("listenerset-without-grant-ns", "listenerset-without-grant", "ListenersNotValid").await?;
        c.set_listener("listenerset-without-grant-ns", "listenerset-without-grant", "without-grant", &[("ResolvedRefs", "False", "RefNotPermitted")], None)
            .await?;
        let address = c.programmed(INFRA, gw).await?;
        c.until("HTTPS with-grant.example.com through the ListenerSet's listener", || async {
            let (status, body) = crate::more::https_get(&address, c.offset + 443, "with-grant.example.com").await?;
            let pod = serde_json::from_str::<Value>(&body).ok().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_default();
            (status == 200 && pod.starts_with("infra-backend-v1-")).then_some(()).ok_or_else(|| format!("HTTP {status} from {pod:?}"))
        })
        .await
    })
    .await
}

/// ListenerSetGatewayParentSectionNameNotFound: a Gateway parentRef whose sectionName names only a
/// ListenerSet listener matches no parent; the same listener through the ListenerSet works.
pub async fn gateway_parent_section_not_found(c: &Ctx) -> Outcome {
    let gw = "gateway-section-name";
    let yaml = [
        gateway(gw, "{from: Same}", &[&http("gw-listener", "gw-section.com", "Same")]),
        set("listenerset-section-name", INFRA, gw, &[&http("ls-only-listener", "ls-section-name.com", "Same")]),
        route("route-via-listenerset", INFRA, &[via_set("listenerset-section-name", INFRA, Some("ls-only-listener"))], "/goodsection", "infra-backend-v1"),
        route("route-via-gateway", INFRA, &[via_gateway(gw, Some("ls-only-listener"))], "/badsection", "infra-backend-v2"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.parent_condition((INFRA, "route-via-gateway"), ("Gateway", INFRA, gw), "Accepted", "False", "NoMatchingParent").await?;
        c.parent_condition((INFRA, "route-via-listenerset"), ("ListenerSet", INFRA, "listenerset-section-name"), "Accepted", "True", "Accepted").await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        c.traffic(at, &get("ls-section-name.com", "/goodsection").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get("ls-section-name.com", "/badsection").status(404)).await?;
        c.traffic(at, &get("gw-section.com", "/badsection").status(404)).await
    })
    .await
}

/// ListenerSetDualParentRefIndependence: each parentRef of a route is answered on its own (a bad
/// Gateway sectionName does not stop the ListenerSet parent), and a route with both parents is
/// served on both hostnames.
pub async fn dual_parent_independence(c: &Ctx) -> Outcome {
    let gw = "gateway-dual-parents";
    let ls = "listenerset-dual-parents";
    let yaml = [
        gateway(gw, "{from: Same}", &[&http("gw-listener", "gw-dual.com", "Same")]),
        set(ls, INFRA, gw, &[&http("ls-listener", "ls-dual.com", "Same")]),
        route("both-good", INFRA, &[via_gateway(gw, None), via_set(ls, INFRA, None)], "/both", "infra-backend-v1"),
        route("bad-gateway-section", INFRA, &[via_gateway(gw, Some("no-such-listener")), via_set(ls, INFRA, Some("ls-listener"))], "/half", "infra-backend-v2"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.parent_condition((INFRA, "both-good"), ("Gateway", INFRA, gw), "Accepted", "True", "Accepted").await?;
        c.parent_condition((INFRA, "both-good"), ("ListenerSet", INFRA, ls), "Accepted", "True", "Accepted").await?;
        c.parent_condition((INFRA, "bad-gateway-section"), ("Gateway", INFRA, gw), "Accepted", "False", "NoMatchingParent").await?;
        c.parent_condition((INFRA, "bad-gateway-section"), ("ListenerSet", INFRA, ls), "Accepted", "True", "Accepted").await?;
        c.set_listener(INFRA, ls, "ls-listener", GOOD, Some(2)).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        c.traffic(at, &get("gw-dual.com", "/both").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get("ls-dual.com", "/both").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get("ls-dual.com", "/half").to(INFRA, "infra-backend-v2")).await?;
        c.traffic(at, &get("gw-dual.com", "/half").status(404)).await
    })
    .await
}

/// ListenerSetRouteStatusScopedToParentRef: a route names only the parents it has (kind, group
/// and namespace written out).
pub async fn route_status_scoped(c: &Ctx) -> Outcome {
    let gw = "gateway-scoped-status";
    let ls = "listenerset-scoped-status";
    let yaml = [
        gateway(gw, "{from: Same}", &[&http("gw-listener", "gw-scoped.com", "Same")]),
        set(ls, INFRA, gw, &[&http("ls-listener", "ls-scoped.com", "Same")]),
        route("gateway-route", INFRA, &[via_gateway(gw, None)], "/", "infra-backend-v1"),
        route("listenerset-route", INFRA, &[via_set(ls, INFRA, None)], "/", "infra-backend-v1"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.parent_condition((INFRA, "gateway-route"), ("Gateway", INFRA, gw), "Accepted", "True", "Accepted").await?;
        c.parent_condition((INFRA, "listenerset-route"), ("ListenerSet", INFRA, ls), "Accepted", "True", "Accepted").await?;
        c.set_listener(INFRA, ls, "ls-listener", GOOD, Some(1)).await?;
        for (route, only) in [("gateway-route", gw), ("listenerset-route", ls)] {
            let object = c.get(&format!("{GROUP}/v1"), "HTTPRoute", INFRA, route).await?;
            let parents = object["status"]["parents"].as_array().cloned().unwrap_or_default();
            if parents.len() != 1 || parents[0]["parentRef"]["name"] != only || parents[0]["parentRef"]["namespace"] != INFRA {
                return Err(format!("HTTPRoute {route} should name only {only}: {}", object["status"]));
            }
        }
        Ok(())
    })
    .await
}
