//! GATEWAY-HTTPS client certificate validation (`spec.tls.frontend`) with real TLS clients: one
//! presenting a certificate the trusted CA signed, one presenting a certificate another CA signed,
//! and one presenting none (the certificates are in `mtls/`, see its README). A refused client is
//! one that gets no HTTP answer: HAProxy aborts the handshake (TLS 1.2) or sends an alert in place
//! of the first record (TLS 1.3).

use std::net::SocketAddr;

use crate::base::{CLASS, INFRA, WEB, certificate};
use crate::check::{Ctx, Outcome, get, has_condition, is_pod_of};

const CA: &str = include_str!("mtls/ca.crt");
const CLIENT: (&str, &str) = (include_str!("mtls/client.crt"), include_str!("mtls/client.key"));
const STRANGER: (&str, &str) = (include_str!("mtls/stranger.crt"), include_str!("mtls/stranger.key"));

/// A ConfigMap in [`INFRA`] holding `pem` under `ca.crt`.
fn ca_config_map(name: &str, pem: &str) -> String {
    let body: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {INFRA}}}\ndata:\n  ca.crt: |\n{body}")
}

/// An HTTPS listener on `port` with the base's server certificate.
fn https(name: &str, port: u16) -> String {
    format!(
        "  - {{name: {name}, port: {port}, protocol: HTTPS, allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{certificateRefs: [{{name: tls-validity-checks-certificate}}]}}}}\n"
    )
}

/// A Gateway with an HTTP listener, the given HTTPS listeners and `frontend` as `spec.tls.frontend`,
/// and a route to infra-backend-v1 on every listener.
fn gateway(name: &str, frontend: &str, listeners: &[String]) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  tls:\n    frontend: {frontend}\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: Same}}}}}}\n{}---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {name}}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n",
        listeners.concat()
    )
}

/// One HTTPS request as `client` (or with no certificate); the status, or why there was none.
async fn request(at: SocketAddr, client: Option<(&str, &str)>) -> Result<u16, String> {
    let pinned = certificate();
    let identity = client.map(|(cert, key)| (cert.as_bytes(), key.as_bytes()));
    let reply = portico_echo::tls::https_get_as(at, "example.org", "example.org", "/", Some(&pinned), identity).await.map_err(|e| e.to_string())?;
    let echo: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
    let pod = echo["pod"].as_str().unwrap_or_default();
    if reply.status == 200 && !is_pod_of(pod, "infra-backend-v1") {
        return Err(format!("HTTP 200 from {pod:?}, not infra-backend-v1"));
    }
    Ok(reply.status)
}

async fn answered(c: &Ctx, at: SocketAddr, who: &str, client: Option<(&str, &str)>) -> Outcome {
    c.consistently(&format!("HTTPS as {who} via {at} answered"), || async {
        match request(at, client).await? {
            200 => Ok(()),
            other => Err(format!("HTTP {other}")),
        }
    })
    .await
}

async fn refused(c: &Ctx, at: SocketAddr, who: &str, client: Option<(&str, &str)>) -> Outcome {
    c.consistently(&format!("HTTPS as {who} via {at} refused"), || async {
        match request(at, client).await {
            Ok(status) => Err(format!("HTTP {status}: the connection was let in")),
            Err(_) => Ok(()),
        }
    })
    .await
}

pub async fn validation(c: &Ctx) -> Outcome {
    let gw = "client-validation";
    let frontend = "{default: {validation: {caCertificateRefs: [{group: \"\", kind: ConfigMap, name: client-ca}]}}}";
    let yaml = [ca_config_map("client-ca", CA), gateway(gw, frontend, &[https("https", 443)])].concat();
    c.scoped(&yaml, || async {
        let accepted: &[(&str, &str, &str)] = &[("Accepted", "True", ""), ("ResolvedRefs", "True", ""), ("Programmed", "True", "")];
        c.listener(INFRA, gw, "https", |l| listener_is_any_kinds(l, accepted)).await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 443);
        answered(c, at, "the trusted CA's client", Some(CLIENT)).await?;
        refused(c, at, "a client without a certificate", None).await?;
        refused(c, at, "another CA's client", Some(STRANGER)).await?;
        // Validation is for HTTPS: the HTTP listener beside it is unaffected.
        c.traffic(c.at(&c.programmed(INFRA, gw).await?, 80), &get("example.org", "/").to(INFRA, "infra-backend-v1")).await
    })
    .await
}

pub async fn insecure_fallback(c: &Ctx) -> Outcome {
    let gw = "client-validation-fallback";
    let frontend = "{default: {validation: {mode: AllowInsecureFallback, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: client-ca}]}}}";
    let yaml = [ca_config_map("client-ca", CA), gateway(gw, frontend, &[https("https", 443)])].concat();
    c.scoped(&yaml, || async {
        let at = c.at(&c.programmed(INFRA, gw).await?, 443);
        answered(c, at, "the trusted CA's client", Some(CLIENT)).await?;
        answered(c, at, "a client without a certificate", None).await?;
        answered(c, at, "another CA's client", Some(STRANGER)).await
    })
    .await
}

/// Upstream's GatewayFrontendInvalidDefaultClientCertificateValidation: a default validation
/// whose only reference is missing keeps the HTTPS listener out; HTTP is unaffected.
pub async fn invalid_default(c: &Ctx) -> Outcome {
    let gw = "invalid-default-client-validation-config";
    let frontend = "{default: {validation: {caCertificateRefs: [{group: \"\", kind: ConfigMap, name: does-not-exist}]}}}";
    let yaml = gateway(gw, frontend, &[https("https", 443)]);
    c.scoped(&yaml, || async {
        let invalid: &[(&str, &str, &str)] =
            &[("ResolvedRefs", "False", "InvalidCACertificateRef"), ("Accepted", "False", "NoValidCACertificate"), ("Programmed", "False", "")];
        c.listener(INFRA, gw, "https", |l| listener_is_any_kinds(l, invalid)).await?;
        let address = c.programmed(INFRA, gw).await?;
        c.traffic(c.at(&address, 80), &get("example.org", "/").to(INFRA, "infra-backend-v1")).await?;
        refused(c, c.at(&address, 443), "the trusted CA's client", Some(CLIENT)).await
    })
    .await
}

/// Upstream's GatewayInvalidFrontendClientCertificateValidation: per-port validations with an
/// unresolved reference, an unsupported kind and a missing ReferenceGrant each keep only their
/// own listener out; the default's valid one is programmed.
pub async fn invalid_per_port(c: &Ctx) -> Outcome {
    let gw = "gateway-with-invalid-client-cert-validation";
    let port = |port: u16, r: &str| format!("{{port: {port}, tls: {{validation: {{caCertificateRefs: [{r}]}}}}}}");
    let per_port = [
        port(8443, "{group: \"\", kind: ConfigMap, name: does-not-exist}"),
        port(9443, "{group: \"\", kind: Secret, name: tls-validity-checks-certificate}"),
        port(10443, &format!("{{group: \"\", kind: ConfigMap, name: client-ca, namespace: {WEB}}}")),
    ];
    let frontend =
        format!("{{default: {{validation: {{caCertificateRefs: [{{group: \"\", kind: ConfigMap, name: client-ca}}]}}}}, perPort: [{}]}}", per_port.join(", "));
    let listeners = [https("https", 443), https("https-unresolved", 8443), https("https-invalid-kind", 9443), https("https-grant-missing", 10443)];
    let yaml = [ca_config_map("client-ca", CA), gateway(gw, &frontend, &listeners)].concat();
    c.scoped(&yaml, || async {
        let good: &[(&str, &str, &str)] = &[("ResolvedRefs", "True", ""), ("Accepted", "True", ""), ("Programmed", "True", "")];
        c.listener(INFRA, gw, "https", |l| listener_is_any_kinds(l, good)).await?;
        for (listener, reason) in
            [("https-unresolved", "InvalidCACertificateRef"), ("https-invalid-kind", "InvalidCACertificateKind"), ("https-grant-missing", "RefNotPermitted")]
        {
            let bad: &[(&str, &str, &str)] = &[("ResolvedRefs", "False", reason), ("Accepted", "False", "NoValidCACertificate"), ("Programmed", "False", "")];
            c.listener(INFRA, gw, listener, |l| listener_is_any_kinds(l, bad)).await?;
        }
        Ok(())
    })
    .await
}

fn listener_is_any_kinds(status: &serde_json::Value, conditions: &[(&str, &str, &str)]) -> Outcome {
    for (ctype, value, reason) in conditions {
        has_condition(&status["conditions"], ctype, value, reason)?;
    }
    Ok(())
}
