//! Gateway scenarios: listener statuses (certificates and ReferenceGrants, route kinds, attached
//! routes), observedGeneration, and routes a listener does not allow.

use serde_json::Value;

use crate::base::{APP, CLASS, INFRA, WEB};
use crate::check::{Ctx, Outcome, listener_is};

fn gateway(name: &str, listeners: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
    )
}

fn https_listener(secret_ns: &str, secret: &str) -> String {
    format!(
        "  - name: https\n    port: 443\n    protocol: HTTPS\n    allowedRoutes: {{namespaces: {{from: All}}}}\n    tls: {{certificateRefs: [{{group: \"\", kind: Secret, name: {secret}, namespace: {secret_ns}}}]}}\n"
    )
}

fn grant(name: &str, ns: &str, from: &str, to: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  from: [{from}]\n  to: [{to}]\n"
    )
}

const REFUSED: &[(&str, &str, &str)] = &[("ResolvedRefs", "False", "RefNotPermitted")];

pub async fn secret_missing_reference_grant(c: &Ctx) -> Outcome {
    let name = "gateway-secret-missing-reference-grant";
    c.scoped(&gateway(name, &https_listener(WEB, "certificate")), || c.listener(INFRA, name, "https", |l| listener_is(l, &["HTTPRoute"], REFUSED, 0))).await
}

pub async fn secret_invalid_reference_grant(c: &Ctx) -> Outcome {
    let name = "gateway-secret-invalid-reference-grant";
    let gw_from = format!("{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {INFRA}}}");
    let secret = "{group: \"\", kind: Secret, name: certificate}";
    let yaml = [
        gateway(name, &https_listener(WEB, "certificate")),
        grant("reference-grant-wrong-namespace", APP, &gw_from, secret),
        grant("reference-grant-wrong-from-group", WEB, &format!("{{group: not-the-group-youre-looking-for, kind: Gateway, namespace: {INFRA}}}"), secret),
        grant("reference-grant-wrong-from-kind", WEB, &format!("{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {INFRA}}}"), secret),
        grant(
            "reference-grant-wrong-from-namespace",
            WEB,
            "{group: gateway.networking.k8s.io, kind: Gateway, namespace: not-the-namespace-youre-looking-for}",
            secret,
        ),
        grant(
            "reference-grant-wrong-to-group",
            WEB,
            &gw_from,
            "{group: not-the-group-youre-looking-for, kind: Secret, name: not-the-certificate-youre-looking-for}",
        ),
        grant("reference-grant-wrong-to-kind", WEB, &gw_from, "{group: \"\", kind: Service, name: certificate}"),
        grant("reference-grant-wrong-to-name", WEB, &gw_from, "{group: \"\", kind: Secret, name: not-the-certificate-youre-looking-for}"),
    ]
    .concat();
    c.scoped(&yaml, || c.listener(INFRA, name, "https", |l| listener_is(l, &["HTTPRoute"], REFUSED, 0))).await
}

const RESOLVED: &[(&str, &str, &str)] = &[("Programmed", "True", "Programmed"), ("ResolvedRefs", "True", "")];

pub async fn secret_reference_grant_all_in_namespace(c: &Ctx) -> Outcome {
    let name = "gateway-secret-reference-grant-all-in-namespace";
    let yaml = [
        gateway(name, &https_listener(WEB, "certificate")),
        grant(
            "reference-grant-all-in-namespace",
            WEB,
            &format!("{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {INFRA}}}"),
            "{group: \"\", kind: Secret}",
        ),
    ]
    .concat();
    c.scoped(&yaml, || c.listener(INFRA, name, "https", |l| listener_is(l, &["HTTPRoute"], RESOLVED, 0))).await
}

pub async fn secret_reference_grant_specific(c: &Ctx) -> Outcome {
    let name = "gateway-secret-reference-grant-specific";
    let yaml = [
        gateway(name, &https_listener(WEB, "certificate")),
        grant(
            "reference-grant-specific",
            WEB,
            &format!("{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {INFRA}}}"),
            "{group: \"\", kind: Secret, name: certificate}",
        ),
    ]
    .concat();
    c.scoped(&yaml, || c.listener(INFRA, name, "https", |l| listener_is(l, &["HTTPRoute"], RESOLVED, 0))).await
}

pub async fn invalid_route_kind(c: &Ctx) -> Outcome {
    let listener = |kinds: &str| format!("  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}, kinds: [{kinds}]}}}}\n");
    let yaml = format!(
        "{}---\n{}",
        gateway("gateway-only-invalid-route-kind", &listener("{kind: InvalidRoute}")),
        gateway("gateway-supported-and-invalid-route-kind", &listener("{kind: InvalidRoute}, {kind: HTTPRoute}"))
    );
    let invalid: &[(&str, &str, &str)] = &[("ResolvedRefs", "False", "InvalidRouteKinds")];
    c.scoped(&yaml, || async {
        c.listener(INFRA, "gateway-only-invalid-route-kind", "http", |l| listener_is(l, &[], invalid, 0)).await?;
        c.listener(INFRA, "gateway-supported-and-invalid-route-kind", "http", |l| listener_is(l, &["HTTPRoute"], invalid, 0)).await
    })
    .await
}

/// Every condition of `conditions` was written for `generation`.
fn latest(conditions: &Value, generation: &Value, what: &str) -> Outcome {
    let list = conditions.as_array().filter(|l| !l.is_empty()).ok_or_else(|| format!("{what} has no conditions"))?;
    match list.iter().find(|c| c["observedGeneration"] != *generation) {
        Some(stale) => {
            Err(format!("{what} condition {} has observedGeneration {}, the object is at generation {generation}", stale["type"], stale["observedGeneration"]))
        }
        None => Ok(()),
    }
}

pub async fn gateway_observed_generation_bump(c: &Ctx) -> Outcome {
    let name = "gateway-observed-generation-bump";
    let one = "  - {name: http, hostname: bar.com, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n";
    let two = format!("{one}  - {{name: alternate, hostname: foo.com, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}\n");
    let gen_latest = || async {
        let gw = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, name).await?;
        latest(&gw["status"]["conditions"], &gw["metadata"]["generation"], "Gateway").map(|()| gw["metadata"]["generation"].clone())
    };
    c.scoped(&gateway(name, one), || async {
        c.until("conditions at the first generation", || async { gen_latest().await.map(drop) }).await?;
        let before = gen_latest().await?;
        c.apply(&gateway(name, &two)).await?;
        c.until("conditions at the new generation", || async {
            let now = gen_latest().await?;
            (now != before).then_some(()).ok_or_else(|| format!("generation still {now}"))
        })
        .await
    })
    .await
}

pub async fn httproute_observed_generation_bump(c: &Ctx) -> Outcome {
    let route = |backend: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: observed-generation-bump, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [observed-generation-bump.conformance.test]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8080}}]\n"
        )
    };
    let gen_latest = || async {
        let r = c.get("gateway.networking.k8s.io/v1", "HTTPRoute", INFRA, "observed-generation-bump").await?;
        let parents = r["status"]["parents"].as_array().cloned().unwrap_or_default();
        if parents.is_empty() {
            return Err("no parent status".to_string());
        }
        for p in &parents {
            latest(&p["conditions"], &r["metadata"]["generation"], "HTTPRoute parent")?;
        }
        Ok(r["metadata"]["generation"].clone())
    };
    c.scoped(&route("infra-backend-v1"), || async {
        c.route_accepted("HTTPRoute", INFRA, "observed-generation-bump", crate::http::SAME).await?;
        c.until("conditions at the first generation", || async { gen_latest().await.map(drop) }).await?;
        let before = gen_latest().await?;
        c.apply(&route("infra-backend-v2")).await?;
        c.route_accepted("HTTPRoute", INFRA, "observed-generation-bump", crate::http::SAME).await?;
        c.until("conditions at the new generation", || async {
            let now = gen_latest().await?;
            (now != before).then_some(()).ok_or_else(|| format!("generation still {now}"))
        })
        .await
    })
    .await
}

fn http_route(name: &str, gw: &str, section: Option<&str>, hosts: &str, backend: &str) -> String {
    let section = section.map(|s| format!(", sectionName: {s}")).unwrap_or_default();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{kind: Gateway, name: {gw}, namespace: {INFRA}{section}}}]\n  hostnames: [{hosts}]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8080}}]\n"
    )
}

pub async fn with_attached_routes(c: &Ctx) -> Outcome {
    let selector =
        format!("{{kinds: [{{kind: HTTPRoute}}], namespaces: {{from: Selector, selector: {{matchLabels: {{kubernetes.io/metadata.name: {INFRA}}}}}}}}}");
    let yaml = [
        gateway("gateway-with-one-attached-route", &format!("  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {selector}}}\n")),
        http_route("http-route-1", "gateway-with-one-attached-route", None, "", "infra-backend-v1"),
        format!("---\n{}", gateway("gateway-with-two-attached-routes", &format!("  - {{name: http, port: 80, protocol: HTTP, hostname: foo.example.com, allowedRoutes: {selector}}}\n"))),
        http_route("http-route-2", "gateway-with-two-attached-routes", None, "", "infra-backend-v1"),
        http_route("http-route-3", "gateway-with-two-attached-routes", None, "", "infra-backend-v1"),
        http_route("http-route-not-accepted", "gateway-with-two-attached-routes", None, "not-accepted.test.com", "infra-backend-v1"),
        format!(
            "---\n{}",
            gateway(
                "unresolved-gateway-with-one-attached-unresolved-route",
                &format!("  - name: tls\n    port: 443\n    protocol: HTTPS\n    allowedRoutes: {selector}\n    tls: {{mode: Terminate, certificateRefs: [{{group: \"\", kind: Secret, name: does-not-exist}}]}}\n")
            )
        ),
        http_route("http-route-4", "unresolved-gateway-with-one-attached-unresolved-route", Some("tls"), "", "does-not-exist"),
    ]
    .concat()
    .replace("  hostnames: []\n", "");
    let good: &[(&str, &str, &str)] = &[("Accepted", "True", ""), ("ResolvedRefs", "True", "")];
    let bad: &[(&str, &str, &str)] = &[("Programmed", "False", ""), ("ResolvedRefs", "False", "")];
    c.scoped(&yaml, || async {
        c.listener(INFRA, "gateway-with-one-attached-route", "http", |l| listener_is(l, &["HTTPRoute"], good, 1)).await?;
        c.listener(INFRA, "gateway-with-two-attached-routes", "http", |l| listener_is(l, &["HTTPRoute"], good, 2)).await?;
        c.route_condition(
            "HTTPRoute",
            INFRA,
            "http-route-not-accepted",
            (INFRA, "gateway-with-two-attached-routes"),
            "Accepted",
            "False",
            "NoMatchingListenerHostname",
        )
        .await?;
        c.listener(INFRA, "unresolved-gateway-with-one-attached-unresolved-route", "tls", |l| listener_is(l, &["HTTPRoute"], bad, 1)).await?;
        c.route_condition("HTTPRoute", INFRA, "http-route-4", (INFRA, "unresolved-gateway-with-one-attached-unresolved-route"), "ResolvedRefs", "False", "")
            .await
    })
    .await
}

pub async fn with_attached_routes_port_8080(c: &Ctx) -> Outcome {
    let gw = "gateway-with-two-listeners-and-one-attached-route";
    let all = "{kinds: [{kind: HTTPRoute}], namespaces: {from: All}}";
    let yaml = [
        gateway(gw, &format!("  - {{name: http-unattached, port: 8080, protocol: HTTP, allowedRoutes: {all}}}\n  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {all}}}\n")),
        http_route("http-route-4-port-8080", gw, Some("http"), "", "infra-backend-v1"),
    ]
    .concat()
    .replace("  hostnames: []\n", "");
    let good: &[(&str, &str, &str)] = &[("Accepted", "True", ""), ("ResolvedRefs", "True", "")];
    c.scoped(&yaml, || async {
        c.listener(INFRA, gw, "http-unattached", |l| listener_is(l, &["HTTPRoute"], good, 0)).await?;
        c.listener(INFRA, gw, "http", |l| listener_is(l, &["HTTPRoute"], good, 1)).await
    })
    .await
}

pub async fn disallowed_kind(c: &Ctx) -> Outcome {
    let gw = "tlsroutes-only";
    let yaml = [
        gateway(gw, "  - {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}}\n"),
        format!("---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: disallowed-kind, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {gw}, namespace: {INFRA}}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_condition("HTTPRoute", INFRA, "disallowed-kind", (INFRA, gw), "ResolvedRefs", "True", "").await?;
        c.route_condition("HTTPRoute", INFRA, "disallowed-kind", (INFRA, gw), "Accepted", "False", "NotAllowedByListeners").await?;
        c.listener(INFRA, gw, "tls", |l| listener_is(l, &["TLSRoute"], &[], 0)).await
    })
    .await
}
