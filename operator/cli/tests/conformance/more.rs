//! More GATEWAY-HTTP core scenarios: partial validity, rules without backends, routes on two
//! Gateways, invalid listeners and certificates, and GatewayClass observedGeneration.

use crate::base::{APP, CLASS, INFRA};
use crate::check::{Ctx, Outcome, get, has_condition, listener_is};
use crate::http::SAME;

pub async fn partially_invalid_via_invalid_reference_grant(c: &Ctx) -> Outcome {
    let h = "partially-invalid.conformance.test";
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: invalid-reference-grant, namespace: {APP}}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {INFRA}}}]\n  to: [{{group: \"\", kind: Service, name: app-backend-v1}}]\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: invalid-reference-grant, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{h}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /v2}}}}]\n    backendRefs: [{{name: app-backend-v2, namespace: {APP}, port: 8080}}]\n  - backendRefs: [{{name: app-backend-v1, namespace: {APP}, port: 8080}}]\n"
    );
    c.scoped(&yaml, || async {
        c.route_condition("HTTPRoute", INFRA, "invalid-reference-grant", SAME, "Accepted", "True", "").await?;
        c.route_condition("HTTPRoute", INFRA, "invalid-reference-grant", SAME, "ResolvedRefs", "False", "RefNotPermitted").await?;
        let at = c.gw("same-namespace", 80);
        c.traffic(at, &get(h, "/v2").status(500)).await?;
        c.traffic(at, &get(h, "/").to(APP, "app-backend-v1")).await
    })
    .await
}

pub async fn no_backend_refs(c: &Ctx) -> Outcome {
    let h = "omitted-backendrefs.conformance.test";
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: omitted-backendrefs, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{h}]\n  rules:\n  - matches: [{{path: {{type: Exact, value: /omitted-no-forward}}}}]\n  - matches: [{{path: {{type: Exact, value: /empty-no-forward}}}}]\n    backendRefs: []\n  - matches: [{{path: {{type: PathPrefix, value: /}}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"
    );
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "omitted-backendrefs", SAME).await?;
        let at = c.gw("same-namespace", 80);
        c.traffic(at, &get(h, "/forward").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(at, &get(h, "/omitted-no-forward").status(500)).await?;
        c.traffic(at, &get(h, "/empty-no-forward").status(500)).await
    })
    .await
}

pub async fn multiple_gateways(c: &Ctx) -> Outcome {
    let h = "multiple-gateways.conformance.test";
    let route = |name: &str, parents: &str, prefix: &str, backend: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{parents}]\n  hostnames: [{h}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    backendRefs: [{{name: {backend}, port: 8080}}]\n"
        )
    };
    let yaml = [
        route("multiple-gateways-shared-route", "{name: same-namespace}, {name: all-namespaces}", "/shared", "infra-backend-v1"),
        route("same-namespace-dedicated-route", "{name: same-namespace}", "/", "infra-backend-v2"),
        route("all-namespaces-dedicated-route", "{name: all-namespaces}", "/", "infra-backend-v3"),
    ]
    .concat();
    let all = (INFRA, "all-namespaces");
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "multiple-gateways-shared-route", SAME).await?;
        c.route_accepted("HTTPRoute", INFRA, "multiple-gateways-shared-route", all).await?;
        c.route_accepted("HTTPRoute", INFRA, "same-namespace-dedicated-route", SAME).await?;
        c.route_accepted("HTTPRoute", INFRA, "all-namespaces-dedicated-route", all).await?;
        let (same, every) = (c.gw("same-namespace", 80), c.gw("all-namespaces", 80));
        c.traffic(same, &get(h, "/shared").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(same, &get(h, "/").to(INFRA, "infra-backend-v2")).await?;
        c.traffic(every, &get(h, "/shared").to(INFRA, "infra-backend-v1")).await?;
        c.traffic(every, &get(h, "/").to(INFRA, "infra-backend-v3")).await
    })
    .await
}

fn https_gateway(name: &str, reference: &str) -> String {
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n    allowedRoutes: {{namespaces: {{from: All}}}}\n    tls: {{certificateRefs: [{reference}]}}\n"
    )
}

pub async fn invalid_tls_configuration(c: &Ctx) -> Outcome {
    let cases = [
        ("gateway-certificate-nonexistent-secret", "{group: \"\", kind: Secret, name: nonexistent-certificate}"),
        ("gateway-certificate-unsupported-group", "{group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate}"),
        ("gateway-certificate-unsupported-kind", "{group: \"\", kind: WrongKind, name: tls-validity-checks-certificate}"),
        ("gateway-certificate-malformed-secret", "{group: \"\", kind: Secret, name: malformed-certificate}"),
    ];
    let mut yaml: String = cases.iter().map(|(n, r)| https_gateway(n, r)).collect();
    yaml.push_str(&format!("---\napiVersion: v1\nkind: Secret\nmetadata: {{name: malformed-certificate, namespace: {INFRA}}}\ntype: kubernetes.io/tls\ndata: {{tls.crt: SGVsbG8gd29ybGQK, tls.key: SGVsbG8gd29ybGQK}}\n"));
    let invalid: &[(&str, &str, &str)] = &[("ResolvedRefs", "False", "InvalidCertificateRef")];
    c.scoped(&yaml, || async {
        for (name, _) in cases {
            c.listener(INFRA, name, "https", |l| listener_is(l, &["HTTPRoute"], invalid, 0)).await?;
        }
        Ok(())
    })
    .await
}

pub async fn listener_unsupported_protocol(c: &Ctx) -> Outcome {
    let gw = |name: &str, listeners: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
        )
    };
    let invalid = "  - {name: invalid, port: 1111, protocol: INVALID}\n";
    let yaml = [
        gw("gateway-only-unsupported-protocols", invalid),
        gw("gateway-supported-and-unsupported-protocols", &format!("  - {{name: http, port: 80, protocol: HTTP}}\n{invalid}")),
    ]
    .concat();
    let unsupported: &[(&str, &str, &str)] = &[("Accepted", "False", "UnsupportedProtocol")];
    let accepted: &[(&str, &str, &str)] = &[("Accepted", "True", "Accepted")];
    c.scoped(&yaml, || async {
        let only = "gateway-only-unsupported-protocols";
        c.until(&format!("Gateway {only}"), || async {
            let g = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, only).await?;
            has_condition(&g["status"]["conditions"], "Accepted", "False", "ListenersNotValid")
        })
        .await?;
        c.listener(INFRA, only, "invalid", |l| listener_is(l, &[], unsupported, 0)).await?;
        let both = "gateway-supported-and-unsupported-protocols";
        c.until(&format!("Gateway {both}"), || async {
            let g = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, both).await?;
            has_condition(&g["status"]["conditions"], "Accepted", "True", "ListenersNotValid")
        })
        .await?;
        c.listener(INFRA, both, "http", |l| listener_is(l, &["HTTPRoute"], accepted, 0)).await?;
        c.listener(INFRA, both, "invalid", |l| listener_is(l, &[], unsupported, 0)).await
    })
    .await
}

pub async fn gatewayclass_observed_generation_bump(c: &Ctx) -> Outcome {
    let class = |description: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: gatewayclass-observed-generation-bump}}\nspec:\n  controllerName: portico.dev/haproxy\n  description: {description}\n"
        )
    };
    let latest = || async {
        let g = c.get("gateway.networking.k8s.io/v1", "GatewayClass", "", "gatewayclass-observed-generation-bump").await?;
        let conditions = g["status"]["conditions"].as_array().cloned().unwrap_or_default();
        if !conditions.iter().any(|c| c["type"] == "Accepted") {
            return Err(format!("no Accepted condition: {}", g["status"]));
        }
        match conditions.iter().find(|x| x["observedGeneration"] != g["metadata"]["generation"]) {
            Some(stale) => {
                Err(format!("{} has observedGeneration {}, the class is at {}", stale["type"], stale["observedGeneration"], g["metadata"]["generation"]))
            }
            None => Ok(g["metadata"]["generation"].clone()),
        }
    };
    c.scoped(&class("old"), || async {
        c.until("conditions at the first generation", || async { latest().await.map(drop) }).await?;
        let before = latest().await?;
        c.apply(&class("new")).await?;
        c.until("conditions at the new generation", || async {
            let now = latest().await?;
            (now != before).then_some(()).ok_or_else(|| format!("generation still {now}"))
        })
        .await
    })
    .await
}

pub async fn invalid_parameters_ref(c: &Ctx) -> Outcome {
    let name = "gateway-invalid-parameters-ref";
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP}}\n  infrastructure:\n    parametersRef: {{group: invalid.io, kind: InvalidParameters, name: invalid}}\n"
    );
    c.scoped(&yaml, || async {
        c.until(&format!("Gateway {name}"), || async {
            let g = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, name).await?;
            has_condition(&g["status"]["conditions"], "Accepted", "False", "InvalidParameters")?;
            let stale = g["status"]["conditions"].as_array().into_iter().flatten().find(|x| x["observedGeneration"] != g["metadata"]["generation"]).cloned();
            stale.map_or(Ok(()), |s| Err(format!("{} has observedGeneration {}", s["type"], s["observedGeneration"])))
        })
        .await
    })
    .await
}

/// One HTTPS request with SNI `host` (Python's ssl module; the certificate is not verified, it
/// is self-signed): the status code and the body.
pub async fn https_get(address: &str, port: u16, host: &str) -> Result<(u16, String), String> {
    let script = format!(
        "import ssl,socket\nc=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\ns=c.wrap_socket(socket.create_connection(('{address}',{port}),timeout=5),server_hostname='{host}')\ns.sendall(b'GET / HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n')\nd=b''\nwhile True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\nprint(d.decode(errors='replace'))\n"
    );
    let out = tokio::process::Command::new("python3").arg("-c").arg(&script).output().await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")))?;
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
}

pub async fn https_listener(c: &Ctx) -> Outcome {
    let gw = "same-namespace-with-https-listener";
    let listener = |name: &str, host: Option<&str>| {
        let host = host.map(|h| format!("hostname: \"{h}\", ")).unwrap_or_default();
        format!(
            "  - {{name: {name}, port: 443, protocol: HTTPS, {host}allowedRoutes: {{namespaces: {{from: Same}}}}, tls: {{certificateRefs: [{{group: \"\", kind: Secret, name: tls-validity-checks-certificate, namespace: {INFRA}}}]}}}}\n"
        )
    };
    let yaml = [
        format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n"),
        listener("https", None),
        listener("https-with-hostname", Some("second-example.org")),
        listener("https-with-wildcard-hostname", Some("*.wildcard.org")),
        listener("https-with-hostname-matching-wildcard", Some("fourth-example.wildcard.org")),
        format!("---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: httproute-https-test, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {gw}}}]\n  hostnames: [example.org]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"),
        format!("---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: httproute-https-test-no-hostname, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {gw}, sectionName: https-with-hostname}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v2, port: 8080}}]\n"),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "httproute-https-test", (INFRA, gw)).await?;
        c.route_accepted("HTTPRoute", INFRA, "httproute-https-test-no-hostname", (INFRA, gw)).await?;
        let address = c.programmed(INFRA, gw).await?;
        let port = c.offset + 443;
        for (host, status, backend) in
            [("example.org", 200, Some("infra-backend-v1")), ("unknown-example.org", 404, None), ("second-example.org", 200, Some("infra-backend-v2"))]
        {
            let mut streak = 0;
            c.until(&format!("HTTPS {host}"), || async {
                let (got, body) = https_get(&address, port, host).await?;
                let pod = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_default();
                if got != status || backend.is_some_and(|b| !pod.starts_with(&format!("{b}-"))) {
                    return Err(format!("HTTP {got} from {pod:?}, wanted {status} from {backend:?}"));
                }
                Ok(())
            })
            .await?;
            while streak < 2 {
                let (got, _) = https_get(&address, port, host).await?;
                (got == status).then_some(()).ok_or_else(|| format!("HTTPS {host}: held once, then HTTP {got}"))?;
                streak += 1;
            }
        }
        Ok(())
    })
    .await
}

/// Services without selectors (EndpointSlices written by hand, with infra-backend-v1's Pod IPs,
/// as upstream's test writes them) and headless Services, behind one route.
pub async fn service_types(c: &Ctx) -> Outcome {
    let h = "service-types.conformance.test";
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(c.world.client.clone(), INFRA);
    let listed = pods.list(&kube::api::ListParams::default().labels("app=infra-backend-v1")).await.map_err(|e| e.to_string())?;
    let ips: Vec<String> = listed.items.iter().filter_map(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone())).collect();
    if ips.is_empty() {
        return Err("infra-backend-v1 has no running Pods".into());
    }
    let endpoints: Vec<String> = ips.iter().map(|ip| format!("{{addresses: [\"{ip}\"], conditions: {{ready: true}}}}")).collect();
    let service = |name: &str, headless: bool, selector: bool| {
        let cluster_ip = if headless { "  clusterIP: None\n" } else { "" };
        let selector = if selector { "  selector: {app: infra-backend-v1}\n" } else { "" };
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n{cluster_ip}{selector}  ports: [{{name: first-port, protocol: TCP, port: 8080, targetPort: 3000}}]\n"
        )
    };
    let slice = |service: &str, family: &str, endpoints: &str| {
        format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {service}-{}, namespace: {INFRA}, labels: {{kubernetes.io/service-name: {service}}}}}\naddressType: {family}\nports: [{{name: first-port, port: 3000, protocol: TCP}}]\nendpoints: [{endpoints}]\n",
            if family == "IPv4" { "ip4" } else { "ip6" }
        )
    };
    let v4 = endpoints.join(", ");
    let yaml = [
        format!("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: service-types, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{h}]\n  rules:\n  - matches: [{{path: {{type: Exact, value: /manual-endpointslices}}}}]\n    backendRefs: [{{name: manual-endpointslices, port: 8080}}]\n  - matches: [{{path: {{type: Exact, value: /headless}}}}]\n    backendRefs: [{{name: headless, port: 8080}}]\n  - matches: [{{path: {{type: Exact, value: /headless-manual-endpointslices}}}}]\n    backendRefs: [{{name: headless-manual-endpointslices, port: 8080}}]\n"),
        service("manual-endpointslices", false, false),
        slice("manual-endpointslices", "IPv4", &v4),
        slice("manual-endpointslices", "IPv6", ""),
        service("headless", true, true),
        service("headless-manual-endpointslices", true, false),
        slice("headless-manual-endpointslices", "IPv4", &v4),
        slice("headless-manual-endpointslices", "IPv6", ""),
    ]
    .concat();
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "service-types", SAME).await?;
        let at = c.gw("same-namespace", 80);
        for path in ["/manual-endpointslices", "/headless-manual-endpointslices", "/headless"] {
            c.traffic(at, &get(h, path).to(INFRA, "infra-backend-v1")).await?;
        }
        Ok(())
    })
    .await
}

pub async fn modify_listeners(c: &Ctx) -> Outcome {
    let https = format!(
        "  - {{name: https, port: 443, protocol: HTTPS, hostname: secure.test.com, allowedRoutes: {{namespaces: {{from: All}}}}, tls: {{certificateRefs: [{{group: \"\", kind: Secret, name: tls-validity-checks-certificate, namespace: {INFRA}}}]}}}}\n"
    );
    let gw = |name: &str, listeners: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n{listeners}"
        )
    };
    let route = |name: &str, parent: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{kind: Gateway, name: {parent}, namespace: {INFRA}}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"
        )
    };
    let http_data = "  - {name: http, port: 80, protocol: HTTP, hostname: data.test.com, allowedRoutes: {namespaces: {from: All}}}\n";
    let http_all = "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n";
    let yaml = [
        gw("gateway-add-listener", &https),
        route("http-route-1", "gateway-add-listener"),
        gw("gateway-remove-listener", &format!("{https}{http_all}")),
        route("http-route-2", "gateway-remove-listener"),
    ]
    .concat();
    let good: &[(&str, &str, &str)] = &[("Accepted", "True", ""), ("ResolvedRefs", "True", "")];
    let generation =
        |name: &'static str| async move { c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, name).await.map(|g| g["metadata"]["generation"].clone()) };
    c.scoped(&yaml, || async {
        c.listener(INFRA, "gateway-add-listener", "https", |l| listener_is(l, &["HTTPRoute"], good, 1)).await?;
        let before = generation("gateway-add-listener").await?;
        c.apply(&gw("gateway-add-listener", &format!("{https}{http_data}"))).await?;
        c.listener(INFRA, "gateway-add-listener", "https", |l| listener_is(l, &["HTTPRoute"], good, 1)).await?;
        c.listener(INFRA, "gateway-add-listener", "http", |l| listener_is(l, &["HTTPRoute"], good, 1)).await?;
        (generation("gateway-add-listener").await? != before).then_some(()).ok_or("the Gateway's generation did not change after adding a listener")?;
        c.listener(INFRA, "gateway-remove-listener", "http", |l| listener_is(l, &["HTTPRoute"], good, 1)).await?;
        c.apply(&gw("gateway-remove-listener", http_all)).await?;
        c.until("gateway-remove-listener without its https listener", || async {
            let g = c.get("gateway.networking.k8s.io/v1", "Gateway", INFRA, "gateway-remove-listener").await?;
            let names: Vec<&str> = g["status"]["listeners"].as_array().into_iter().flatten().filter_map(|l| l["name"].as_str()).collect();
            (names == ["http"]).then_some(()).ok_or_else(|| format!("listener statuses {names:?}, wanted [\"http\"]"))
        })
        .await?;
        c.listener(INFRA, "gateway-remove-listener", "http", |l| listener_is(l, &["HTTPRoute"], good, 1)).await
    })
    .await
}
