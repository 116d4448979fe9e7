//! GATEWAY-HTTP extended scenarios about listeners and addresses: redirects that depend on the
//! listener's port and scheme, HTTP listener isolation, static addresses.

use std::net::SocketAddr;

use serde_json::json;

use crate::base::{CLASS, INFRA, certificate};
use crate::check::{Ctx, Outcome, get, has_condition, listener_is};
use crate::http::SAME;

fn gateway(name: &str, listeners: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
    )
}

fn route(name: &str, parents: &str, hostnames: &str, rules: &str) -> String {
    let hostnames = if hostnames.is_empty() { String::new() } else { format!("  hostnames: [{hostnames}]\n") };
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{parents}]\n{hostnames}  rules:\n{rules}"
    )
}

/// `(scheme, port)` of a RequestRedirect to example.org, named like upstream's paths.
fn redirect_rules(cases: &[(Option<&str>, Option<u16>)]) -> String {
    cases
        .iter()
        .map(|(scheme, port)| {
            let mut fields = vec!["hostname: example.org".to_string()];
            fields.extend(scheme.map(|s| format!("scheme: {s}")));
            fields.extend(port.map(|p| format!("port: {p}")));
            format!(
                "  - matches: [{{path: {{type: PathPrefix, value: {}}}}}]\n    filters: [{{type: RequestRedirect, requestRedirect: {{{}}}}}]\n",
                path(*scheme, *port),
                fields.join(", ")
            )
        })
        .collect()
}

fn path(scheme: Option<&str>, port: Option<u16>) -> String {
    format!("/scheme-{}-and-port-{}", scheme.unwrap_or("nil"), port.map(|p| p.to_string()).unwrap_or_else(|| "nil".into()))
}

/// The `Location` upstream expects: the scheme (the listener's when unset), example.org and the
/// port (the listener's when both are unset, else the one given), the default port of the
/// scheme left out.
fn location(listener_scheme: &str, listener_port: u16, scheme: Option<&str>, port: Option<u16>) -> String {
    let out_scheme = scheme.unwrap_or(listener_scheme);
    let out_port = port.or(if scheme.is_none() { Some(listener_port) } else { None });
    let default = if out_scheme == "https" { 443 } else { 80 };
    let shown = out_port.filter(|p| *p != default).map(|p| format!(":{p}")).unwrap_or_default();
    format!("{out_scheme}://example.org{shown}{}", path(scheme, port))
}

pub async fn redirect_port_and_scheme(c: &Ctx) -> Outcome {
    let h = "redirect-port-and-scheme.conformance.test";
    let (gw8080, gw443) = ("same-namespace-with-http-listener-on-8080", "same-namespace-with-https-listener");
    let on80: &[(Option<&str>, Option<u16>)] =
        &[(None, None), (None, Some(80)), (None, Some(8080)), (Some("https"), None), (Some("https"), Some(443)), (Some("https"), Some(8443))];
    let on8080: &[(Option<&str>, Option<u16>)] = &[(None, None), (None, Some(80)), (Some("https"), None)];
    let on443: &[(Option<&str>, Option<u16>)] =
        &[(None, None), (None, Some(443)), (None, Some(8443)), (Some("http"), None), (Some("http"), Some(80)), (Some("http"), Some(8080))];
    let yaml = [
        gateway(gw8080, "  - {name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}\n"),
        gateway(
            gw443,
            &format!("  - {{name: https, port: 443, protocol: HTTPS, allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{certificateRefs: [{{name: tls-validity-checks-certificate, namespace: {INFRA}}}]}}}}\n"),
        ),
        route("http-route-for-listener-on-port-80", "{name: same-namespace}", h, &redirect_rules(on80)),
        route("http-route-for-listener-on-port-8080", &format!("{{name: {gw8080}}}"), "", &redirect_rules(on8080)),
        route("http-route-for-listener-on-port-443", &format!("{{name: {gw443}}}"), "", &redirect_rules(on443)),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "http-route-for-listener-on-port-80", SAME).await?;
        c.route_accepted("HTTPRoute", INFRA, "http-route-for-listener-on-port-8080", (INFRA, gw8080)).await?;
        c.route_accepted("HTTPRoute", INFRA, "http-route-for-listener-on-port-443", (INFRA, gw443)).await?;
        let at80 = c.gw("same-namespace", 80);
        for (scheme, port) in on80 {
            c.traffic(at80, &get(h, &path(*scheme, *port)).redirect(302, &location("http", 80, *scheme, *port))).await?;
        }
        let at8080 = c.at(&c.programmed(INFRA, gw8080).await?, 8080);
        for (scheme, port) in on8080 {
            c.traffic(at8080, &get("redirect.example", &path(*scheme, *port)).redirect(302, &location("http", 8080, *scheme, *port))).await?;
        }
        let at443 = c.at(&c.programmed(INFRA, gw443).await?, 443);
        for (scheme, port) in on443 {
            https_redirect(c, at443, &path(*scheme, *port), &location("https", 443, *scheme, *port)).await?;
        }
        Ok(())
    })
    .await
}

/// An HTTPS request for example.org (SNI and Host) is answered 302 to `location`.
async fn https_redirect(c: &Ctx, at: SocketAddr, path: &str, location: &str) -> Outcome {
    let pinned = certificate();
    c.consistently(&format!("HTTPS example.org{path} via {at}"), || async {
        let reply = portico_echo::tls::https_get(at, "example.org", "example.org", path, Some(&pinned)).await.map_err(|e| e.to_string())?;
        let got = reply.header("location").unwrap_or_default();
        if reply.status != 302 || got != location {
            return Err(format!("HTTP {} to {got:?}, wanted 302 to {location:?}", reply.status));
        }
        Ok(())
    })
    .await
}

pub async fn http_listener_isolation(c: &Ctx) -> Outcome {
    let listeners = [
        ("empty-hostname", None),
        ("wildcard-example-com", Some("*.example.com")),
        ("wildcard-foo-example-com", Some("*.foo.example.com")),
        ("abc-foo-example-com", Some("abc.foo.example.com")),
    ];
    let listener_yaml: String = listeners
        .iter()
        .map(|(name, host)| {
            let host = host.map(|h| format!("hostname: \"{h}\", ")).unwrap_or_default();
            format!("  - {{name: {name}, port: 80, protocol: HTTP, {host}allowedRoutes: {{namespaces: {{from: All}}}}}}\n")
        })
        .collect();
    let every_host = "\"bar.com\", \"*.example.com\", \"*.foo.example.com\", \"abc.foo.example.com\"";
    for (gw, suffix, hostnames) in
        [("http-listener-isolation", "", ""), ("http-listener-isolation-with-hostname-intersection", "-with-hostname-intersection", every_host)]
    {
        let mut yaml = gateway(gw, &listener_yaml);
        for (listener, _) in &listeners {
            let rules =
                format!("  - matches: [{{path: {{type: PathPrefix, value: /{listener}}}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n");
            yaml.push_str(&route(
                &format!("attaches-to-{listener}{suffix}"),
                &format!("{{name: {gw}, namespace: {INFRA}, sectionName: {listener}}}"),
                hostnames,
                &rules,
            ));
        }
        c.scoped(&yaml, || async {
            for (listener, _) in &listeners {
                c.route_accepted("HTTPRoute", INFRA, &format!("attaches-to-{listener}{suffix}"), (INFRA, gw)).await?;
            }
            let at = c.at(&c.programmed(INFRA, gw).await?, 80);
            // Each host is served by the most specific listener matching it, and only by it.
            for (host, served) in [
                ("bar.com", "empty-hostname"),
                ("bar.example.com", "wildcard-example-com"),
                ("bar.foo.example.com", "wildcard-foo-example-com"),
                ("abc.foo.example.com", "abc-foo-example-com"),
            ] {
                for (listener, _) in &listeners {
                    let expect = get(host, &format!("/{listener}"));
                    let expect = if *listener == served { expect.to(INFRA, "infra-backend-v1") } else { expect.status(404) };
                    c.traffic(at, &expect).await.map_err(|e| format!("{gw}: {e}"))?;
                }
            }
            Ok(())
        })
        .await?;
    }
    // Beyond upstream: a listener with no route keeps its hostname to itself (404), rather than
    // letting the next less specific listener's routes answer it.
    let gw = "http-listener-isolation-no-route";
    let mut yaml = gateway(gw, &listener_yaml);
    let rules = "  - matches: [{path: {type: PathPrefix, value: /}}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n";
    for (listener, _) in listeners.iter().filter(|(l, _)| *l != "abc-foo-example-com") {
        yaml.push_str(&route(&format!("no-route-{listener}"), &format!("{{name: {gw}, namespace: {INFRA}, sectionName: {listener}}}"), "", rules));
    }
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "no-route-wildcard-foo-example-com", (INFRA, gw)).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        c.traffic(at, &get("bar.foo.example.com", "/").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get("abc.foo.example.com", "/").status(404)).await.map_err(|e| format!("{gw}: {e}"))
    })
    .await
}

/// The Gateway's conditions are of its latest generation and `ctype` is `status/reason`.
async fn latest(c: &Ctx, gw: &str, ctype: &str, status: &str, reason: &str) -> Outcome {
    c.until(&format!("Gateway {gw} {ctype}={status}/{reason} at its latest generation"), || async {
        let gateway = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, gw).await?;
        let generation = &gateway["metadata"]["generation"];
        let conditions = gateway["status"]["conditions"].as_array().cloned().unwrap_or_default();
        if conditions.is_empty() || conditions.iter().any(|c| &c["observedGeneration"] != generation) {
            return Err(format!("conditions not of generation {generation}: {}", gateway["status"]["conditions"]));
        }
        has_condition(&gateway["status"]["conditions"], ctype, status, reason)
    })
    .await
}

pub async fn static_addresses(c: &Ctx) -> Outcome {
    let gw = "gateway-static-addresses";
    // The pool is 127.0.40.1-60 and the other Gateways take its first addresses.
    let (unusable, usable) = ("127.0.41.250", "127.0.40.59");
    let invalid = json!({"type": "test/fake-invalid-type", "value": "fake address teehee!"});
    let unusable_entry = json!({"type": "IPAddress", "value": unusable});
    let usable_entry = json!({"type": "IPAddress", "value": usable});
    let yaml = format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  addresses: [{invalid}, {unusable_entry}, {usable_entry}]\n  listeners:\n  - {{name: http, port: 8080, protocol: HTTP}}\n"
    );
    let addresses = |list: Vec<&serde_json::Value>| json!({"spec": {"addresses": list}});
    c.scoped(&yaml, || async {
        latest(c, gw, "Accepted", "False", "UnsupportedAddress").await?;
        c.merge_patch("gateway.networking.k8s.io/v1", "Gateway", INFRA, gw, addresses(vec![&unusable_entry, &usable_entry])).await?;
        latest(c, gw, "Accepted", "True", "Accepted").await?;
        latest(c, gw, "Programmed", "False", "AddressNotUsable").await?;
        c.merge_patch("gateway.networking.k8s.io/v1", "Gateway", INFRA, gw, addresses(vec![&usable_entry])).await?;
        latest(c, gw, "Accepted", "True", "Accepted").await?;
        latest(c, gw, "Programmed", "True", "Programmed").await?;
        c.listener(INFRA, gw, "http", |l| listener_is(l, &["HTTPRoute"], &[("Accepted", "True", ""), ("ResolvedRefs", "True", "")], 0)).await?;
        c.until(&format!("Gateway {gw} reports only {usable}"), || async {
            let gateway = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, gw).await?;
            let reported = &gateway["status"]["addresses"];
            (reported == &json!([{"type": "IPAddress", "value": usable}])).then_some(()).ok_or_else(|| format!("status.addresses is {reported}"))
        })
        .await?;
        // And HAProxy serves the listener there (a Gateway without routes answers 404).
        c.traffic(c.at(usable, 8080), &get("static.example", "/").status(404)).await
    })
    .await
}
