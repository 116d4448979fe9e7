//! GATEWAY-TLS scenarios with traffic: TLS passthrough to the base's TLS echoes (`tls-backend`,
//! `tls-backend-2`: the HTTP echo over TLS; `tcp-backend`: the TCP line protocol over TLS), each
//! presenting the example certificate, which the client pins (upstream trusts the Secret's
//! certificate). A rejected connection is one HAProxy resets or closes during the handshake.

use std::io::ErrorKind;
use std::net::SocketAddr;

use crate::base::{CLASS, INFRA, certificate};
use crate::check::{Ctx, Outcome, is_pod_of};

fn gateway(name: &str, listener: &str, hostname: Option<&str>) -> String {
    let hostname = hostname.map(|h| format!("hostname: \"{h}\", ")).unwrap_or_default();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n  - {{name: {listener}, protocol: TLS, port: 443, {hostname}allowedRoutes: {{namespaces: {{from: Same}}, kinds: [{{kind: TLSRoute}}]}}, tls: {{mode: Passthrough}}}}\n"
    )
}

fn route(name: &str, gw: &str, hostname: &str, backend: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {gw}, namespace: {INFRA}}}]\n  hostnames: [\"{hostname}\"]\n  rules:\n  - backendRefs: [{backend}]\n"
    )
}

/// An HTTPS request through the passthrough listener with SNI and Host `host` is answered by a
/// Pod of `backend` in [`INFRA`] (eventually, then consistently).
async fn reaches(c: &Ctx, at: SocketAddr, host: &str, backend: &str) -> Outcome {
    let pinned = certificate();
    c.consistently(&format!("TLS {host} via {at}"), || async {
        let reply = portico_echo::tls::https_get(at, host, host, "/", Some(&pinned)).await.map_err(|e| e.to_string())?;
        let (status, body) = (reply.status, reply.body);
        let echo: serde_json::Value = serde_json::from_str(&body).map_err(|_| format!("HTTP {status}, no echo JSON: {body:.120}"))?;
        let pod = echo["pod"].as_str().unwrap_or_default();
        if status != 200 || echo["namespace"] != INFRA || !is_pod_of(pod, backend) {
            return Err(format!("HTTP {status} from Pod {pod:?} in {}, wanted 200 from {INFRA}/{backend}", echo["namespace"]));
        }
        Ok(())
    })
    .await
}

/// A TLS connection with SNI `host` is reset or closed during the handshake.
async fn rejected(c: &Ctx, at: SocketAddr, host: &str) -> Outcome {
    c.until(&format!("TLS {host} via {at} rejected"), || async {
        match portico_echo::tls::connect(at, host, None).await {
            Ok(_) => Err("the handshake completed".into()),
            Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => Ok(()),
            Err(e) => Err(format!("the connection failed otherwise: {e}")),
        }
    })
    .await
}

async fn accepted(c: &Ctx, gw: &str, routes: &[&str]) -> Result<String, String> {
    for r in routes {
        c.route_accepted("TLSRoute", INFRA, r, (INFRA, gw)).await?;
    }
    c.programmed(INFRA, gw).await
}

pub async fn simple_same_namespace(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute";
    let yaml = [gateway(gw, "https", Some("*.example.com")), route("gateway-conformance-infra-test", gw, "abc.example.com", "{name: tcp-backend, port: 8443}")]
        .concat();
    c.scoped(&yaml, || async {
        let at = c.at(&accepted(c, gw, &["gateway-conformance-infra-test"]).await?, 443);
        let pinned = certificate();
        c.consistently(&format!("TLS abc.example.com via {at}"), || async {
            let stream = portico_echo::tls::connect(at, "abc.example.com", Some(&pinned)).await.map_err(|e| e.to_string())?;
            let seen = portico_echo::tcp::probe(stream).await?;
            let sni = seen.tls.as_ref().map(|t| t.server_name.as_str()).unwrap_or_default();
            if !seen.is_tls || seen.namespace != INFRA || !is_pod_of(&seen.pod, "tcp-backend") || sni != "abc.example.com" {
                return Err(format!("answered {seen:?}, wanted a TLS connection with SNI abc.example.com to {INFRA}/tcp-backend"));
            }
            Ok(())
        })
        .await
    })
    .await
}

/// A Gateway, its listener and hostname, its routes `(name, hostname, backendRef)`, and a server
/// name it must reject.
type Intersection<'a> = (&'a str, &'a str, Option<&'a str>, Vec<(&'a str, &'a str, &'a str)>, &'a str);

pub async fn hostname_intersection(c: &Ctx) -> Outcome {
    let (v1, v2) = ("{name: tls-backend, port: 443}", "{name: tls-backend-2, port: 443}");
    let cases: [Intersection; 4] = [
        (
            "gw-tlsroute-exact-hostname-x-1",
            "listener-exact-hostname",
            Some("abc.example.com"),
            vec![("tlsroute-more-specific-wc-hostname-x-1", "*.example.com", v1)],
            "non.matching.com",
        ),
        (
            "gw-tlsroute-more-specific-wc-hostname-x-2",
            "listener-more-specific-wc-hostname",
            Some("*.example.com"),
            vec![("tlsroute-exact-hostname-x-2", "abc.example.com", v1), ("tlsroute-less-specific-wc-hostname-x-2", "*.com", v2)],
            "non.matching.com",
        ),
        (
            "gw-tlsroute-less-specific-wc-hostname-x-3",
            "listener-less-specific-wc-hostname",
            Some("*.com"),
            vec![("tlsroute-exact-hostname-x-3", "abc.example.com", v1), ("tlsroute-more-specific-wc-hostname-x-3", "*.example.com", v2)],
            "non.matching.com",
        ),
        (
            "gw-tlsroute-empty-hostname-x-4",
            "listener-empty-hostname",
            None,
            vec![("tlsroute-exact-hostname-x-4", "abc.example.com", v1), ("tlsroute-less-specific-wc-hostname-x-4", "*.com", v2)],
            "non.matching.org",
        ),
    ];
    let mut yaml = String::new();
    for (gw, listener, hostname, routes, _) in &cases {
        yaml.push_str(&gateway(gw, listener, *hostname));
        for (name, host, backend) in routes {
            yaml.push_str(&route(name, gw, host, backend));
        }
    }
    c.scoped(&yaml, || async {
        for (gw, _, _, routes, other) in &cases {
            let names: Vec<&str> = routes.iter().map(|r| r.0).collect();
            let at = c.at(&accepted(c, gw, &names).await?, 443);
            reaches(c, at, "abc.example.com", "tls-backend").await?;
            if routes.len() > 1 {
                reaches(c, at, "other.example.com", "tls-backend-2").await?;
            }
            rejected(c, at, other).await?;
        }
        Ok(())
    })
    .await
}

/// Upstream's two invalid-backend tests: the route is Accepted with ResolvedRefs=False/`reason`,
/// and a connection for its hostname is rejected.
async fn invalid_backend(c: &Ctx, gw: &str, name: &str, backend: &str, reason: &str) -> Outcome {
    let yaml = [
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n  - {{name: tls, protocol: TLS, port: 443, allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{mode: Passthrough}}}}\n"
        ),
        route(name, gw, "example.com", backend),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_condition("TLSRoute", INFRA, name, (INFRA, gw), "Accepted", "True", "").await?;
        c.route_condition("TLSRoute", INFRA, name, (INFRA, gw), "ResolvedRefs", "False", reason).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 443);
        rejected(c, at, "example.com").await
    })
    .await
}

pub async fn invalid_backend_ref_nonexistent(c: &Ctx) -> Outcome {
    let backend = format!("{{name: nonexistent, namespace: {INFRA}, port: 443}}");
    invalid_backend(c, "gateway-tlsroute-invalid-backend-ref-nonexistent", "invalid-backend-ref-nonexistent", &backend, "BackendNotFound").await
}

pub async fn invalid_backend_ref_unknown_kind(c: &Ctx) -> Outcome {
    let backend = "{group: unknownkind.example.com, kind: NonExistent, name: tls-backend, port: 443}";
    invalid_backend(c, "gateway-tlsroute-invalid-backend-ref-unknown-kind", "invalid-backend-ref-unknown-kind", backend, "InvalidKind").await
}

fn terminate_secret() -> String {
    format!("---\n{}", serde_yaml::to_string(&crate::base::tls_secret(INFRA, "tls-terminate-checks-certificate")).unwrap_or_default())
}

fn terminate_listener(name: &str, host: &str) -> String {
    format!(
        "  - {{name: {name}, port: 8443, protocol: TLS, hostname: {host}, allowedRoutes: {{namespaces: {{from: Same}}, kinds: [{{kind: TLSRoute}}]}}, tls: {{mode: Terminate, certificateRefs: [{{name: tls-terminate-checks-certificate}}]}}}}\n"
    )
}

fn gateway_with(name: &str, listeners: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
    )
}

pub async fn listener_terminate_supported_kinds(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute-terminate-supported";
    let yaml = [terminate_secret(), gateway_with(gw, &terminate_listener("tls-terminate", "terminate.example.com"))].concat();
    let accepted: &[(&str, &str, &str)] = &[("Accepted", "True", "Accepted")];
    c.scoped(&yaml, || c.listener(INFRA, gw, "tls-terminate", |l| crate::check::listener_is(l, &["TLSRoute"], accepted, 0))).await
}

pub async fn listener_mixed_termination_not_supported(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute-mixed-termination-not-supported";
    let passthrough = "  - {name: tls-passthrough, port: 8443, protocol: TLS, hostname: passthrough.example.com, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}, tls: {mode: Passthrough}}\n";
    let yaml =
        [terminate_secret(), gateway_with(gw, &[terminate_listener("tls-terminate", "terminate.example.com"), passthrough.to_string()].concat())].concat();
    let conflict = |l: &serde_json::Value| {
        crate::check::has_condition(&l["conditions"], "Accepted", "False", "ProtocolConflict")?;
        let count = l["attachedRoutes"].as_i64().unwrap_or(-1);
        (count == 0).then_some(()).ok_or_else(|| format!("attachedRoutes is {count}, wanted 0"))
    };
    c.scoped(&yaml, || async {
        c.listener(INFRA, gw, "tls-terminate", conflict).await?;
        c.listener(INFRA, gw, "tls-passthrough", conflict).await
    })
    .await
}

/// TLS terminated by HAProxy, then the TCP line protocol in plain text to `tcp-backend`.
pub async fn terminate_simple_same_namespace(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute-terminate";
    let yaml = [
        terminate_secret(),
        gateway_with(gw, &terminate_listener("tlsterminate", "tls.example.com")),
        route("tlsroute-terminated-test", gw, "tls.example.com", "{name: tcp-backend, port: 3000}"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        let at = c.at(&accepted(c, gw, &["tlsroute-terminated-test"]).await?, 8443);
        let pinned = certificate();
        c.consistently(&format!("TLS tls.example.com via {at}"), || async {
            let stream = portico_echo::tls::connect(at, "tls.example.com", Some(&pinned)).await.map_err(|e| e.to_string())?;
            let seen = portico_echo::tcp::probe(stream).await?;
            if seen.is_tls || seen.namespace != INFRA || !is_pod_of(&seen.pod, "tcp-backend") {
                return Err(format!("answered {seen:?}, wanted a plain-text connection to {INFRA}/tcp-backend"));
            }
            Ok(())
        })
        .await
    })
    .await
}
