//! BackendTLSPolicy scenarios (upstream's `BackendTLSPolicy*` tests): HAProxy originates TLS to
//! the `backend-tls-verified` echo (a certificate the test CA signed for `abc.example.com` and
//! `other.example.com`), sends the policy's hostname as SNI (the echo reports what it saw),
//! refuses a backend whose certificate does not verify, and answers 5xx, never plaintext, for a
//! policy it cannot use. Policy status: one ancestor entry for the Gateway.

use std::time::Duration;

use serde_json::{Value, json};

use crate::base::INFRA;
use crate::check::{Ctx, Outcome, get, has_condition};
use crate::http::SAME;

const CA: &str = include_str!("backendtls/ca.crt");
const MISMATCH_CA: &str = include_str!("backendtls/mismatch-ca.crt");
const SERVER: (&str, &str) = (include_str!("backendtls/server.crt"), include_str!("backendtls/server.key"));

/// The Secret the `backend-tls-verified` echo mounts.
pub const SERVER_SECRET: &str = "backend-tls-verified-certificate";
/// The Secret of the echo that also verifies clients (its certificate, and the CA under `ca.crt`).
pub const CLIENT_VERIFYING_SECRET: &str = "backend-tls-client-verified-certificate";
/// The client certificate Gateways present to that echo (the mTLS scenarios' client).
const CLIENT: (&str, &str) = (include_str!("mtls/client.crt"), include_str!("mtls/client.key"));
const CLIENT_CA: &str = include_str!("mtls/ca.crt");

fn b64(s: &str) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s)
}

/// The base's Secrets for these scenarios.
pub fn secrets() -> Vec<Value> {
    let tls = |name: &str, (crt, key): (&str, &str)| json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": name, "namespace": INFRA}, "data": {"tls.crt": b64(crt), "tls.key": b64(key)}});
    let mut verifying = tls(CLIENT_VERIFYING_SECRET, SERVER);
    verifying["type"] = json!("Opaque");
    verifying["data"]["ca.crt"] = json!(b64(CLIENT_CA));
    vec![tls(SERVER_SECRET, SERVER), verifying, tls("tls-checks-client-certificate", CLIENT)]
}

fn ca_map(name: &str, pem: &str) -> String {
    let pem: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {INFRA}}}\ndata:\n  ca.crt: |\n{pem}")
}

/// A Service for the verified TLS echo; `ports`: (name, port) pairs, all to the echo's 8443.
fn service(name: &str, ports: &[(&str, u16)], selector: &str) -> String {
    let ports: Vec<String> = ports.iter().map(|(n, p)| format!("{{name: {n}, port: {p}, targetPort: 8443}}")).collect();
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  selector: {{app: {selector}}}\n  ports: [{}]\n",
        ports.join(", ")
    )
}

/// A policy on Service `service` (port `section` if any), trusting `ca` (a YAML flow list of
/// refs, or `System`), verifying `hostname`.
fn policy(name: &str, service: &str, section: Option<&str>, ca: &str, hostname: &str) -> String {
    let section = section.map(|s| format!(", sectionName: {s}")).unwrap_or_default();
    let trust = if ca == "System" { "wellKnownCACertificates: System".to_string() } else { format!("caCertificateRefs: {ca}") };
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  targetRefs: [{{group: \"\", kind: Service, name: {service}{section}}}]\n  validation:\n    {trust}\n    hostname: {hostname}\n"
    )
}

fn config_map_ref(name: &str) -> String {
    format!("[{{group: \"\", kind: ConfigMap, name: {name}}}]")
}

/// An HTTPRoute on the shared `same-namespace` Gateway: (path prefix, Service, port) per rule.
fn route(name: &str, rules: &[(&str, &str, u16)]) -> String {
    let rules: String = rules
        .iter()
        .map(|(path, service, port)| {
            format!("  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: [{{name: {service}, port: {port}}}]\n")
        })
        .collect();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  rules:\n{rules}"
    )
}

impl Ctx {
    /// The policy's ancestor entry for the shared Gateway holds `ctype=status/reason`, and every
    /// ancestor entry is of the policy's current generation.
    async fn policy_condition(&self, name: &str, ctype: &str, status: &str, reason: &str) -> Outcome {
        self.until(&format!("BackendTLSPolicy {INFRA}/{name} {ctype}={status}/{reason}"), || async {
            let policy = self.get("gateway.networking.k8s.io/v1", "BackendTLSPolicy", INFRA, name).await?;
            let ancestors = policy["status"]["ancestors"].as_array().cloned().unwrap_or_default();
            let entry = ancestors
                .iter()
                .find(|a| a["ancestorRef"]["name"] == SAME.1)
                .ok_or_else(|| format!("no ancestor entry for the Gateway: {}", policy["status"]))?;
            let generation = &policy["metadata"]["generation"];
            for c in ancestors.iter().flat_map(|a| a["conditions"].as_array().cloned().unwrap_or_default()) {
                if c["observedGeneration"] != *generation {
                    return Err(format!("condition {} observed generation {}, the policy is at {generation}", c["type"], c["observedGeneration"]));
                }
            }
            has_condition(&entry["conditions"], ctype, status, reason)
        })
        .await
    }

    /// A request the policy must make fail: 500, 502 or 503, a few times in a row.
    async fn refused(&self, path: &str) -> Outcome {
        let at = self.gw(SAME.1, 80);
        self.consistently(&format!("GET {path} fails"), || async {
            let reply = portico_sandbox::http_request(at, "GET", "btls.conformance.test", path, &[]).await.map_err(|e| e.to_string())?;
            [500, 502, 503]
                .contains(&reply.status)
                .then_some(())
                .ok_or_else(|| format!("HTTP {}: {}", reply.status, reply.body.chars().take(120).collect::<String>()))
        })
        .await
    }

    async fn reaches(&self, path: &str, sni: &str) -> Outcome {
        self.traffic(self.gw(SAME.1, 80), &get("btls.conformance.test", path).to(INFRA, "backend-tls-verified").saw_sni(sni)).await
    }
}

/// BackendTLSPolicy: the normative case (SNI sent, certificate verified), a hostname the
/// certificate does not carry and an untrusted CA (both refused), and the CA ConfigMap's changes
/// followed (missing, created, emptied, restored).
pub async fn normative(c: &Ctx) -> Outcome {
    let yaml = [
        ca_map("btls-ca", CA),
        ca_map("btls-mismatch-ca", MISMATCH_CA),
        service("btls-normative", &[("btls", 443)], "backend-tls-verified"),
        service("btls-host-mismatch", &[("btls", 443)], "backend-tls-verified"),
        service("btls-cert-mismatch", &[("btls", 443)], "backend-tls-verified"),
        policy("normative-test", "btls-normative", Some("btls"), &config_map_ref("btls-ca"), "abc.example.com"),
        policy("host-mismatch", "btls-host-mismatch", Some("btls"), &config_map_ref("btls-ca"), "mismatch.example.com"),
        policy("cert-mismatch", "btls-cert-mismatch", Some("btls"), &config_map_ref("btls-mismatch-ca"), "abc.example.com"),
        route(
            "btls-normative",
            &[("/normative", "btls-normative", 443), ("/host-mismatch", "btls-host-mismatch", 443), ("/cert-mismatch", "btls-cert-mismatch", 443)],
        ),
    ]
    .concat();
    c.scoped(&yaml, || async {
        for name in ["normative-test", "host-mismatch", "cert-mismatch"] {
            c.policy_condition(name, "Accepted", "True", "Accepted").await?;
            c.policy_condition(name, "ResolvedRefs", "True", "ResolvedRefs").await?;
        }
        c.route_condition("HTTPRoute", INFRA, "btls-normative", SAME, "ResolvedRefs", "True", "ResolvedRefs").await?;
        c.reaches("/normative", "abc.example.com").await?;
        c.refused("/host-mismatch").await?;
        c.refused("/cert-mismatch").await?;
        // The CA ConfigMap's life is followed.
        let missing = json!({"spec": {"validation": {"caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "btls-ca-reconcile"}]}}});
        c.merge_patch("gateway.networking.k8s.io/v1", "BackendTLSPolicy", INFRA, "normative-test", missing).await?;
        c.policy_condition("normative-test", "Accepted", "False", "NoValidCACertificate").await?;
        c.policy_condition("normative-test", "ResolvedRefs", "False", "InvalidCACertificateRef").await?;
        c.refused("/normative").await?;
        let created = c.apply(&ca_map("btls-ca-reconcile", CA)).await?;
        c.policy_condition("normative-test", "Accepted", "True", "Accepted").await?;
        c.reaches("/normative", "abc.example.com").await?;
        c.merge_patch("v1", "ConfigMap", INFRA, "btls-ca-reconcile", json!({"data": {"ca.crt": ""}})).await?;
        c.policy_condition("normative-test", "ResolvedRefs", "False", "InvalidCACertificateRef").await?;
        c.refused("/normative").await?;
        c.merge_patch("v1", "ConfigMap", INFRA, "btls-ca-reconcile", json!({"data": {"ca.crt": CA}})).await?;
        c.policy_condition("normative-test", "ResolvedRefs", "True", "ResolvedRefs").await?;
        c.reaches("/normative", "abc.example.com").await?;
        c.delete(created).await;
        Ok(())
    })
    .await
}

/// BackendTLSPolicyConflictResolution: of two policies for one target the first (oldest, then by
/// name) holds it and the other is Conflicted; a port's own policy and a Service-wide one do not
/// conflict, each applying where it should (the SNI the echo saw tells which).
pub async fn conflict_resolution(c: &Ctx) -> Outcome {
    let ca = config_map_ref("btls-ca");
    let yaml = [
        ca_map("btls-ca", CA),
        service("btls-conflict-whole", &[("https-1", 443)], "backend-tls-verified"),
        service("btls-conflict-port", &[("https-1", 443), ("https-2", 8443)], "backend-tls-verified"),
        service("btls-no-conflict", &[("https-1", 443), ("https-2", 8443)], "backend-tls-verified"),
        policy("conflicted-without-section-name-1", "btls-conflict-whole", None, &ca, "other.example.com"),
        policy("conflicted-without-section-name-2", "btls-conflict-whole", None, &ca, "abc.example.com"),
        policy("conflicted-with-section-name-1", "btls-conflict-port", Some("https-1"), &ca, "other.example.com"),
        policy("conflicted-with-section-name-2", "btls-conflict-port", Some("https-1"), &ca, "abc.example.com"),
        policy("not-conflicted-with-section-name", "btls-no-conflict", Some("https-1"), &ca, "other.example.com"),
        policy("not-conflicted-without-section-name", "btls-no-conflict", None, &ca, "abc.example.com"),
        route(
            "btls-conflicts",
            &[
                ("/whole", "btls-conflict-whole", 443),
                ("/port", "btls-conflict-port", 443),
                ("/own-port", "btls-no-conflict", 443),
                ("/other-port", "btls-no-conflict", 8443),
            ],
        ),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.policy_condition("conflicted-without-section-name-1", "Accepted", "True", "Accepted").await?;
        c.policy_condition("conflicted-without-section-name-2", "Accepted", "False", "Conflicted").await?;
        c.policy_condition("conflicted-with-section-name-1", "Accepted", "True", "Accepted").await?;
        c.policy_condition("conflicted-with-section-name-2", "Accepted", "False", "Conflicted").await?;
        c.policy_condition("not-conflicted-with-section-name", "Accepted", "True", "Accepted").await?;
        c.policy_condition("not-conflicted-without-section-name", "Accepted", "True", "Accepted").await?;
        c.reaches("/whole", "other.example.com").await?;
        c.reaches("/port", "other.example.com").await?;
        c.reaches("/own-port", "other.example.com").await?;
        c.reaches("/other-port", "abc.example.com").await
    })
    .await
}

/// BackendTLSPolicyInvalidCACertificateRef and BackendTLSPolicyInvalidKind: a policy with no
/// usable CA is not accepted, and its backend answers 5xx instead of being reached in clear.
pub async fn invalid_ca(c: &Ctx, kind: bool) -> Outcome {
    let (name, refs, reason) = if kind {
        ("invalid-kind", "[{group: invalid.io, kind: InvalidKind, name: btls-ca}]".to_string(), "InvalidKind")
    } else {
        ("nonexistent-ca-certificate-ref", config_map_ref("does-not-exist"), "InvalidCACertificateRef")
    };
    let mut yaml = [
        ca_map("btls-ca", CA),
        service("btls-invalid", &[("btls", 443)], "backend-tls-verified"),
        policy(name, "btls-invalid", None, &refs, "abc.example.com"),
    ]
    .concat();
    let mut paths = vec![("/invalid", "btls-invalid", 443)];
    if !kind {
        yaml.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: btls-malformed, namespace: gateway-conformance-infra}\ndata: {}\n");
        yaml.push_str(&service("btls-malformed", &[("btls", 443)], "backend-tls-verified"));
        yaml.push_str(&policy("malformed-ca-certificate-ref", "btls-malformed", None, &config_map_ref("btls-malformed"), "abc.example.com"));
        paths.push(("/malformed", "btls-malformed", 443));
    }
    yaml.push_str(&route("btls-invalid", &paths));
    c.scoped(&yaml, || async {
        let policies: &[&str] = if kind { &[name] } else { &[name, "malformed-ca-certificate-ref"] };
        for policy in policies {
            c.policy_condition(policy, "Accepted", "False", "NoValidCACertificate").await?;
            c.policy_condition(policy, "ResolvedRefs", "False", reason).await?;
        }
        c.route_condition("HTTPRoute", INFRA, "btls-invalid", SAME, "Accepted", "True", "Accepted").await?;
        for (path, _, _) in &paths {
            c.refused(path).await?;
        }
        Ok(())
    })
    .await
}

/// BackendTLSPolicyObservedGenerationBump: an edit to the policy is reflected with its new
/// generation on every ancestor entry.
pub async fn observed_generation_bump(c: &Ctx) -> Outcome {
    let yaml = [
        ca_map("btls-ca", CA),
        service("btls-generation", &[("https", 443)], "no-such-pods"),
        policy("observed-generation-bump", "btls-generation", Some("https"), &config_map_ref("btls-ca"), "abc.example.com"),
        route("btls-generation", &[("/generation", "btls-generation", 443)]),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.policy_condition("observed-generation-bump", "Accepted", "True", "").await?;
        let before = c.get("gateway.networking.k8s.io/v1", "BackendTLSPolicy", INFRA, "observed-generation-bump").await?["metadata"]["generation"].clone();
        c.merge_patch(
            "gateway.networking.k8s.io/v1",
            "BackendTLSPolicy",
            INFRA,
            "observed-generation-bump",
            json!({"spec": {"validation": {"hostname": "foo.example.com"}}}),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = c.get("gateway.networking.k8s.io/v1", "BackendTLSPolicy", INFRA, "observed-generation-bump").await?["metadata"]["generation"].clone();
        if before == after {
            return Err(format!("the patch did not bump the generation ({before})"));
        }
        c.policy_condition("observed-generation-bump", "Accepted", "True", "").await
    })
    .await
}

/// The DER (hex) of the first certificate of a PEM text, as the echo reports peer certificates.
fn der_hex(pem: &str) -> String {
    let body: String = pem.lines().skip_while(|l| !l.starts_with("-----BEGIN")).skip(1).take_while(|l| !l.starts_with("-----END")).collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap_or_default();
    der.iter().map(|b| format!("{b:02x}")).collect()
}

fn gateway(name: &str, client_certificate: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {}\n  tls:\n    backend:\n      clientCertificateRef: {client_certificate}\n  listeners: [{{name: http, port: 80, protocol: HTTP}}]\n",
        crate::base::CLASS
    )
}

/// GatewayTLSBackendClientCertificate: the Gateway presents `spec.tls.backend`'s certificate to
/// a backend reached over TLS that requires one (the echo shows the certificate it got).
pub async fn client_certificate(c: &Ctx) -> Outcome {
    let gw = "gateway-tls-backend-client-certificate";
    let yaml = [
        gateway(gw, "{group: \"\", kind: Secret, name: tls-checks-client-certificate}"),
        ca_map("btls-ca", CA),
        service("btls-client-verified", &[("btls", 443)], "backend-tls-client-verified"),
        policy("gateway-tls-backend-client-certificate-test", "btls-client-verified", None, &config_map_ref("btls-ca"), "abc.example.com"),
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {gw}}}]\n  rules:\n  - backendRefs: [{{name: btls-client-verified, port: 443}}]\n"
        ),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.gateway_condition(INFRA, gw, "ResolvedRefs", "True", "ResolvedRefs").await?;
        c.gateway_condition(INFRA, gw, "Accepted", "True", "Accepted").await?;
        c.route_condition("HTTPRoute", INFRA, gw, (INFRA, gw), "ResolvedRefs", "True", "ResolvedRefs").await?;
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        let expected = der_hex(CLIENT.0);
        c.traffic(at, &get("abc.example.com", "/").to(INFRA, "backend-tls-client-verified").saw_sni("abc.example.com")).await?;
        c.until("the backend saw the Gateway's client certificate", || async {
            let reply = portico_sandbox::http_request(at, "GET", "abc.example.com", "/", &[]).await.map_err(|e| e.to_string())?;
            let echo = reply.echo().ok_or("no echo JSON")?;
            (echo["tls"]["peerCertificates"][0] == expected.as_str())
                .then_some(())
                .ok_or_else(|| format!("peer certificates seen: {}", echo["tls"]["peerCertificates"]))
        })
        .await
    })
    .await
}

/// GatewayInvalidTLSBackendConfiguration: a client certificate reference that cannot be used
/// makes the Gateway's ResolvedRefs False with the spec's reason; the Gateway stays accepted.
pub async fn invalid_backend_configuration(c: &Ctx) -> Outcome {
    let cases = [
        (
            "gateway-client-certificate-nonexistent-secret",
            "{group: \"\", kind: Secret, name: nonexistent-certificate}".to_string(),
            "InvalidClientCertificateRef",
        ),
        (
            "gateway-client-certificate-unsupported-group",
            "{group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate}".into(),
            "InvalidClientCertificateRef",
        ),
        (
            "gateway-client-certificate-unsupported-kind",
            "{group: \"\", kind: WrongKind, name: tls-validity-checks-certificate}".into(),
            "InvalidClientCertificateRef",
        ),
        (
            "gateway-client-certificate-malformed-secret",
            "{group: \"\", kind: Secret, name: malformed-client-certificate}".into(),
            "InvalidClientCertificateRef",
        ),
        (
            "gateway-client-certificate-missing-reference-grant",
            format!("{{group: \"\", kind: Secret, name: certificate, namespace: {}}}", crate::base::WEB),
            "RefNotPermitted",
        ),
    ];
    let malformed = format!(
        "---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {{name: malformed-client-certificate, namespace: {INFRA}}}\ndata: {{tls.crt: {}, tls.key: {}}}\n",
        b64("not a certificate"),
        b64("not a key")
    );
    let yaml: String = std::iter::once(malformed).chain(cases.iter().map(|(name, reference, _)| gateway(name, reference))).collect();
    c.scoped(&yaml, || async {
        for (name, _, reason) in &cases {
            c.gateway_condition(INFRA, name, "ResolvedRefs", "False", reason).await?;
            c.gateway_condition(INFRA, name, "Accepted", "True", "Accepted").await?;
        }
        Ok(())
    })
    .await
}
