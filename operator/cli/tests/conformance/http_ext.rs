//! GATEWAY-HTTP extended scenarios: timeouts, backend request header modifiers, listener port
//! matching and parentRef ports.

use futures_util::future::try_join_all;
use serde_json::Value;

use crate::base::{CLASS, INFRA};
use crate::check::{Ctx, Expect, Outcome, get, is_pod_of, parent_status};
use crate::http::SAME;

fn route(name: &str, parents: &str, host: Option<&str>, rules: &str) -> String {
    let hostnames = host.map(|h| format!("  hostnames: [{h}]\n")).unwrap_or_default();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{parents}]\n{hostnames}  rules:\n{rules}"
    )
}

/// Every expectation at once (upstream runs the cases of a test in parallel), each eventually
/// and then consistently.
async fn all_at_once(c: &Ctx, at: std::net::SocketAddr, expects: &[Expect]) -> Outcome {
    try_join_all(expects.iter().map(|e| c.traffic(at, e))).await.map(|_| ())
}

/// HTTPRouteTimeoutRequest (`field` `request`) and HTTPRouteTimeoutBackendRequest
/// (`backendRequest`): 500 ms is enforced (504 for a backend answering after 1 s), 0 s disables
/// the timeout.
pub async fn timeout(c: &Ctx, name: &str, field: &str, prefix: &str) -> Outcome {
    let h = format!("{name}.conformance.test");
    let rule = |path: &str, value: &str| {
        format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n    timeouts: {{{field}: \"{value}\"}}\n"
        )
    };
    let rules = [rule(&format!("/{prefix}"), "500ms"), rule(&format!("/disable-{prefix}"), "0s")].concat();
    c.scoped(&route(name, "{name: same-namespace}", Some(&h), &rules), || async {
        c.route_accepted("HTTPRoute", INFRA, name, SAME).await?;
        let expects = [
            get(&h, &format!("/{prefix}")).to(INFRA, "infra-backend-v1"),
            get(&h, &format!("/{prefix}?delay=1s")).status(504),
            get(&h, &format!("/disable-{prefix}?delay=1s")).to(INFRA, "infra-backend-v1"),
        ];
        all_at_once(c, c.gw("same-namespace", 80), &expects).await
    })
    .await
}

/// HTTPRouteBackendRequestHeaderModifier: HTTPRouteRequestHeaderModifier's cases with the filters
/// on the backendRefs.
pub async fn backend_request_header_modifier(c: &Ctx) -> Outcome {
    let h = "backend-request-header-modifier.conformance.test";
    let rules = crate::filters::backend_modifier_rules();
    c.scoped(&route("request-header-modifier", "{name: same-namespace}", Some(h), &rules), || async {
        c.route_accepted("HTTPRoute", INFRA, "request-header-modifier", SAME).await?;
        let at = c.gw("same-namespace", 80);
        for e in crate::filters::request_modifier_expects(h) {
            c.traffic(at, &e).await?;
        }
        Ok(())
    })
    .await
}

/// Each backendRef's own filter sets the `Backend` header its Pods then see.
pub async fn request_header_modifier_backend_weights(c: &Ctx) -> Outcome {
    let h = "backend-weights-header-modifier.conformance.test";
    let backend = |b: &str| {
        format!(
            "{{name: {b}, port: 8080, weight: 10, filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: Backend, value: {b}}}]}}}}]}}"
        )
    };
    let rules = format!("  - backendRefs: [{}, {}]\n", backend("infra-backend-v1"), backend("infra-backend-v2"));
    c.scoped(&route("request-header-modifier-backend-weights", "{name: same-namespace}", Some(h), &rules), || async {
        c.route_accepted("HTTPRoute", INFRA, "request-header-modifier-backend-weights", SAME).await?;
        let at = c.gw("same-namespace", 80);
        c.traffic(at, &get(h, "/")).await?;
        for _ in 0..100 {
            let reply = portico_sandbox::http_get(at, h, "/", &[]).await.map_err(|e| e.to_string())?;
            let echo = reply.echo().ok_or_else(|| format!("HTTP {}: no echo JSON", reply.status))?;
            let set: Vec<&str> = echo["headers"]["backend"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let pod = echo["pod"].as_str().unwrap_or_default();
            if set.len() != 1 || !is_pod_of(pod, set[0]) {
                return Err(format!("Pod {pod:?} saw Backend: {set:?}, wanted exactly its own Deployment's name"));
            }
        }
        Ok(())
    })
    .await
}

pub async fn listener_port_matching(c: &Ctx) -> Outcome {
    let gw = "httproute-listener-port-matching";
    let listener = |name: &str, port: u16, host: &str| {
        format!("  - {{name: {name}, port: {port}, protocol: HTTP, hostname: {host}, allowedRoutes: {{namespaces: {{from: Same}}}}}}\n")
    };
    let forward = |b: &str| format!("  - backendRefs: [{{name: {b}, port: 8080}}]\n");
    let parent = |port: u16, section: &str| format!("{{name: {gw}, namespace: {INFRA}, port: {port}{section}}}");
    let yaml = [
        format!("---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n"),
        listener("listener-1", 80, "foo.com"),
        listener("listener-2", 8080, "foo.com"),
        listener("listener-3", 8080, "bar.com"),
        listener("listener-4", 8090, "foo.com"),
        listener("listener-5", 8090, "bar.com"),
        route("backend-v1", &parent(80, ""), None, &forward("infra-backend-v1")),
        route("backend-v2", &parent(8080, ""), None, &forward("infra-backend-v2")),
        route("backend-v3", &parent(8090, ", sectionName: listener-4"), None, &forward("infra-backend-v3")),
    ]
    .concat();
    c.scoped(&yaml, || async {
        for r in ["backend-v1", "backend-v2", "backend-v3"] {
            c.route_accepted("HTTPRoute", INFRA, r, (INFRA, gw)).await?;
        }
        let address = c.programmed(INFRA, gw).await?;
        let cases = [
            ("foo.com", 80, Some("infra-backend-v1")),
            ("foo.com:8080", 8080, Some("infra-backend-v2")),
            ("bar.com:8080", 8080, Some("infra-backend-v2")),
            ("foo.com:8090", 8090, Some("infra-backend-v3")),
            ("bar.com:8090", 8090, None),
        ];
        for (host, port, backend) in cases {
            let expect = match backend {
                Some(b) => get(host, "/").to(INFRA, b),
                None => get(host, "/").status(404),
            };
            c.traffic(c.at(&address, port), &expect).await?;
        }
        Ok(())
    })
    .await
}

/// The route is refused by Gateway `gw` (`Accepted=False/NoMatchingParent`, references resolved),
/// no parent accepts it, no listener of `gw` counts it, and its hostname is not served there.
async fn refused_by_port(c: &Ctx, gw: &str, route_name: &str, host: &str) -> Outcome {
    c.route_condition("HTTPRoute", INFRA, route_name, (INFRA, gw), "Accepted", "False", "NoMatchingParent").await?;
    c.route_condition("HTTPRoute", INFRA, route_name, (INFRA, gw), "ResolvedRefs", "True", "").await?;
    c.until(&format!("HTTPRoute {route_name} has no accepting parent, Gateway {gw} no attached route"), || async {
        let route = c.get("gateway.networking.k8s.io/v1", "HTTPRoute", INFRA, route_name).await?;
        let accepting = route["status"]["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Accepted" && c["status"] == "True"));
        if accepting {
            return Err(format!("a parent accepts it: {}", route["status"]));
        }
        let gateway = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, gw).await?;
        let counted: Vec<i64> = gateway["status"]["listeners"].as_array().into_iter().flatten().map(|l| l["attachedRoutes"].as_i64().unwrap_or(-1)).collect();
        if counted.is_empty() || counted.iter().any(|n| *n != 0) {
            return Err(format!("listeners count attached routes {counted:?}"));
        }
        parent_status(&route, (INFRA, gw)).map(|_| ()).ok_or_else(|| "no parent status".to_string())
    })
    .await?;
    let address = c.programmed(INFRA, gw).await?;
    c.traffic(c.at(&address, 80), &get(host, "/").status(404)).await
}

pub async fn invalid_parent_ref_not_matching_listener_port(c: &Ctx) -> Outcome {
    let name = "httproute-listener-not-matching-route-port";
    let h = "not-matching-listener-port.conformance.test";
    let yaml = route(
        name,
        &format!("{{name: same-namespace, namespace: {INFRA}, port: 81}}"),
        Some(h),
        "  - backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]\n",
    );
    c.scoped(&yaml, || refused_by_port(c, "same-namespace", name, h)).await
}

pub async fn invalid_parent_ref_section_name_not_matching_port(c: &Ctx) -> Outcome {
    let gw = "gateway-with-one-not-matching-port-and-section-name-route";
    let name = "httproute-listener-section-name-not-matching-port";
    let h = "section-name-not-matching-port.conformance.test";
    let yaml = [
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{kinds: [{{kind: HTTPRoute}}], namespaces: {{from: All}}}}}}\n"
        ),
        route(name, &format!("{{name: {gw}, namespace: {INFRA}, sectionName: http, port: 81}}"), Some(h), "  - backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]\n"),
    ]
    .concat();
    c.scoped(&yaml, || refused_by_port(c, gw, name, h)).await
}

/// Upstream's HTTPRouteBackendProtocolWebSocket: a WebSocket opened through the HTTP listener
/// reaches infra-backend-v1 on its `kubernetes.io/ws` Service port; a text and a binary message
/// come back unchanged.
pub async fn backend_protocol_websocket(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: backend-protocol-ws, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8082}}]\n"
    );
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "backend-protocol-ws", SAME).await?;
        let at = c.gw("same-namespace", 80);
        c.consistently(&format!("WebSocket ws://{at}/ws"), || async {
            portico_echo::ws::round_trip(at, &at.to_string(), "/ws", std::time::Duration::from_secs(5)).await
        })
        .await
    })
    .await
}

/// Upstream's HTTPRouteBackendProtocolH2C: an HTTP/2 prior-knowledge request through the HTTP
/// listener reaches infra-backend-v1 on its `kubernetes.io/h2c` Service port, spoken to in HTTP/2.
pub async fn backend_protocol_h2c(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: backend-protocol-h2c, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [h2c.conformance.test]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8081}}]\n"
    );
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "backend-protocol-h2c", SAME).await?;
        let at = c.gw("same-namespace", 80);
        c.consistently(&format!("h2c GET h2c.conformance.test/ via {at}"), || async {
            let (status, body) = portico_echo::grpc::h2c_get(at, "h2c.conformance.test", "/", std::time::Duration::from_secs(5)).await?;
            let echo: serde_json::Value = serde_json::from_str(&body).map_err(|_| format!("HTTP {status}, no echo: {body:.120}"))?;
            let (pod, proto) = (echo["pod"].as_str().unwrap_or_default(), echo["proto"].as_str().unwrap_or_default());
            if status != 200 || !is_pod_of(pod, "infra-backend-v1") || proto != "HTTP/2.0" {
                return Err(format!("HTTP {status} from {pod:?} over {proto:?}, wanted 200 from infra-backend-v1 over HTTP/2.0"));
            }
            Ok(())
        })
        .await
    })
    .await
}
