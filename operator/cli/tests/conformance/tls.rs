//! GATEWAY-TLS scenarios that need no TLS backend: where TLSRoutes attach, and what TLS
//! listeners report.

use crate::base::{APP, CLASS, INFRA};
use crate::check::{Ctx, Outcome, listener_is};

fn gateway(name: &str, listeners: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
    )
}

fn tls_route(name: &str, parent: &str, hostnames: &str, backend: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{parent}]\n  hostnames: [{hostnames}]\n  rules:\n  - backendRefs: [{backend}]\n"
    )
}

const BACKEND: &str = "{name: tls-backend, port: 443}";

/// No parent status of `route` says Accepted=True, and the listener counts no route.
async fn unattached(c: &Ctx, route: &str, gw: &str, listener: &str, reason: &str) -> Outcome {
    c.route_condition("TLSRoute", INFRA, route, (INFRA, gw), "Accepted", "False", reason).await?;
    c.listener(INFRA, gw, listener, |l| {
        let count = l["attachedRoutes"].as_i64().unwrap_or(-1);
        (count == 0).then_some(()).ok_or_else(|| format!("attachedRoutes is {count}, wanted 0"))
    })
    .await
}

pub async fn invalid_no_matching_listener(c: &Ctx) -> Outcome {
    let yaml = [
        gateway("gateway-tlsroute-tls-passthrough-only", "  - {name: tls-passthrough, protocol: TLS, port: 443, allowedRoutes: {namespaces: {from: Same}}, tls: {mode: Passthrough}}\n"),
        gateway("gateway-tlsroute-http-only", "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}\n"),
        gateway(
            "gateway-tlsroute-https-only",
            &format!("  - {{name: https, port: 443, protocol: HTTPS, allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{mode: Terminate, certificateRefs: [{{name: tls-validity-checks-certificate, namespace: {INFRA}}}]}}}}\n"),
        ),
        tls_route("tlsroute-not-allowed-protocol-http", "{name: gateway-tlsroute-http-only}", "tls.example.com", BACKEND),
        tls_route("tlsroute-not-allowed-protocol-https", "{name: gateway-tlsroute-https-only}", "tls.example.com", BACKEND),
        tls_route("tlsroute-no-matching-section-name", "{name: gateway-tlsroute-tls-passthrough-only, sectionName: nonexistent-listener}", "tls.example.com", BACKEND),
    ]
    .concat();
    c.scoped(&yaml, || async {
        unattached(c, "tlsroute-not-allowed-protocol-http", "gateway-tlsroute-http-only", "http", "NotAllowedByListeners").await?;
        unattached(c, "tlsroute-not-allowed-protocol-https", "gateway-tlsroute-https-only", "https", "NotAllowedByListeners").await?;
        unattached(c, "tlsroute-no-matching-section-name", "gateway-tlsroute-tls-passthrough-only", "tls-passthrough", "NoMatchingParent").await
    })
    .await
}

pub async fn invalid_no_matching_listener_hostname(c: &Ctx) -> Outcome {
    let listener = |host: &str| {
        format!(
            "  - {{name: tls, port: 443, protocol: TLS, hostname: \"{host}\", allowedRoutes: {{namespaces: {{from: Same}}, kinds: [{{kind: TLSRoute}}]}}, tls: {{mode: Passthrough}}}}\n"
        )
    };
    let yaml = [
        gateway("gateway-tls-exact-hostname", &listener("www.example.com")),
        gateway("gateway-tls-wildcard-hostname", &listener("*.example.com")),
        tls_route("tlsroute-hostname-mismatch-1", "{name: gateway-tls-exact-hostname}", "www.nomatch.com, \"*.nomatch.com\"", BACKEND),
        tls_route("tlsroute-hostname-mismatch-2", "{name: gateway-tls-wildcard-hostname}", "www.different.com, \"*.different.com\"", BACKEND),
    ]
    .concat();
    c.scoped(&yaml, || async {
        unattached(c, "tlsroute-hostname-mismatch-1", "gateway-tls-exact-hostname", "tls", "NoMatchingListenerHostname").await?;
        unattached(c, "tlsroute-hostname-mismatch-2", "gateway-tls-wildcard-hostname", "tls", "NoMatchingListenerHostname").await
    })
    .await
}

pub async fn invalid_reference_grant(c: &Ctx) -> Outcome {
    let grant = |name: &str, ns: &str, from: &str, to: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  from: [{from}]\n  to: [{to}]\n"
        )
    };
    let ok_from = format!("{{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: {INFRA}}}");
    let ok_to = "{group: \"\", kind: Service, name: tls-backend}";
    let gw = "gateway-tlsroute-referencegrant";
    let yaml = [
        grant("reference-grant-wrong-namespace", INFRA, &ok_from, ok_to),
        grant("reference-grant-wrong-from-group", APP, &format!("{{group: not-the-group-youre-looking-for, kind: TLSRoute, namespace: {INFRA}}}"), ok_to),
        grant("reference-grant-wrong-from-kind", APP, &format!("{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {INFRA}}}"), ok_to),
        grant("reference-grant-wrong-from-namespace", APP, "{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: not-the-namespace-youre-looking-for}", ok_to),
        grant("reference-grant-wrong-to-group", APP, &ok_from, "{group: not-the-group-youre-looking-for, kind: Service, name: tls-backend}"),
        grant("reference-grant-wrong-to-kind", APP, &ok_from, "{group: \"\", kind: Secret, name: tls-backend}"),
        grant("reference-grant-wrong-to-name", APP, &ok_from, "{group: \"\", kind: Service, name: not-the-service-youre-looking-for}"),
        gateway(gw, "  - {name: https, port: 443, protocol: TLS, hostname: \"*.example.com\", allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}, tls: {mode: Passthrough}}\n"),
        tls_route("gateway-conformance-infra-test", &format!("{{name: {gw}}}"), "abc.example.com", &format!("{{name: tls-backend, namespace: {APP}, port: 443}}")),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_condition("TLSRoute", INFRA, "gateway-conformance-infra-test", (INFRA, gw), "Accepted", "True", "").await?;
        c.route_condition("TLSRoute", INFRA, "gateway-conformance-infra-test", (INFRA, gw), "ResolvedRefs", "False", "RefNotPermitted").await
    })
    .await
}

pub async fn listener_passthrough_supported_kinds(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute-passthrough-supported-kind";
    let yaml = gateway(
        gw,
        "  - {name: tls-passthrough, port: 443, protocol: TLS, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TCPRoute}, {kind: TLSRoute}]}, tls: {mode: Passthrough}}\n",
    );
    let invalid: &[(&str, &str, &str)] = &[("ResolvedRefs", "False", "InvalidRouteKinds")];
    c.scoped(&yaml, || async {
        c.listener(INFRA, gw, "tls-passthrough", |l| {
            listener_is(l, &["TLSRoute"], invalid, 0)?;
            let kinds: Vec<&str> = l["supportedKinds"].as_array().into_iter().flatten().filter_map(|k| k["kind"].as_str()).collect();
            (kinds == ["TLSRoute"]).then_some(()).ok_or_else(|| format!("supportedKinds {kinds:?}, wanted only TLSRoute"))
        })
        .await
    })
    .await
}

pub async fn listener_terminate_not_supported(c: &Ctx) -> Outcome {
    let gw = "gateway-tlsroute-terminate-unsupported";
    let yaml = [
        format!("---\n{}", serde_yaml::to_string(&crate::base::tls_secret(INFRA, "tls-terminate-checks-certificate")).unwrap_or_default()),
        gateway(gw, "  - {name: tls-terminate, port: 8443, protocol: TLS, hostname: terminate.example.com, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}, tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}}\n"),
    ]
    .concat();
    let refused: &[(&str, &str, &str)] = &[("Accepted", "False", "UnsupportedValue")];
    c.scoped(&yaml, || c.listener(INFRA, gw, "tls-terminate", |l| listener_is(l, &[], refused, 0))).await
}
