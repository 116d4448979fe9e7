//! End to end: the real `portico` binary against the in-memory API server, with real HAProxy
//! and echo backends. Each traffic expectation must hold three times in a row.

mod addresses;
mod attack;
mod resilience;
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use world::World;

const SCENARIOS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: haproxy
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: foo, port: 81, protocol: HTTP, hostname: foo.example.com, allowedRoutes: {namespaces: {from: All}}}
  - {name: wild, port: 81, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - name: tcp
    port: 82
    protocol: TCP
    allowedRoutes: {namespaces: {from: All}}
  - name: passthrough
    port: 83
    protocol: TLS
    hostname: "*.example.com"
    tls: {mode: Passthrough}
    allowedRoutes: {namespaces: {from: All}}
  - name: passthrough-443
    port: 443
    protocol: TLS
    hostname: pass443.example.com
    tls: {mode: Passthrough}
    allowedRoutes: {namespaces: {from: All}}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls: {certificateRefs: [{name: example-com-tls}]}
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: passthrough, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: passthrough}, {name: gw, namespace: infra, sectionName: passthrough-443}]
  hostnames: [pass.example.com, pass443.example.com]
  rules:
  - backendRefs: [{name: apps-tls, port: 8443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: https}]
  hostnames: [secure.example.com]
  rules:
  - backendRefs: [{name: apps-v3, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: basic, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [basic.test]
  rules:
  - backendRefs: [{name: infra-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [cross.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /granted}}]
    backendRefs: [{name: infra-v1, namespace: infra, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /denied}}]
    backendRefs: [{name: other-v1, namespace: other, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: apps-to-infra, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matching, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [match.test]
  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: apps-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs: [{name: apps-v2, port: 8080}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: apps-v3, port: 8080}]
  - matches: [{headers: [{name: x-version, value: two}]}]
    backendRefs: [{name: apps-v2, port: 8080}]
  - matches: [{queryParams: [{name: q, value: three}]}]
    backendRefs: [{name: apps-v3, port: 8080}]
  - matches: [{method: POST}]
    backendRefs: [{name: apps-v3, port: 8080}]
  - backendRefs: [{name: apps-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: across-a, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [across.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: apps-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}, headers: [{name: version, value: two}]}]
    backendRefs: [{name: apps-v3, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: across-b, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [across.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: apps-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: filters, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [filters.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-set, value: set-by-portico}], add: [{name: x-add, value: added}], remove: [x-remove]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-response, value: from-portico}]}
    backendRefs: [{name: apps-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /redirect}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: elsewhere.test, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
    backendRefs: [{name: apps-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /full}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: rewritten.test, path: {type: ReplaceFullPath, replaceFullPath: /replaced}}
    backendRefs: [{name: apps-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /nobackend}}]
  - matches: [{path: {type: PathPrefix, value: /weighted}}]
    backendRefs: [{name: apps-v1, port: 8080, weight: 80}, {name: apps-v2, port: 8080, weight: 20}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listener-foo, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: foo}]
  rules:
  - backendRefs: [{name: apps-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listener-wild, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: wild}]
  hostnames: ["*.example.com", "example.net"]
  rules:
  - backendRefs: [{name: apps-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: tcp}]
  rules:
  - backendRefs: [{name: apps-tcp, port: 9000}]
"#;

/// Wait (up to 5 s) for `probe` to pass once, since the operator programs asynchronously, then
/// require it three times in a row; panics with the scenario name and the last reply.
async fn thrice<F, Fut>(name: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while probe().await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for attempt in 1..=3 {
        if let Err(why) = probe().await {
            panic!("scenario {name:?} failed on attempt {attempt}: {why}");
        }
    }
    eprintln!("scenario ok: {name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn traffic_scenarios() {
    let world = World::start(
        "127.0.1.1-127.0.1.9",
        12000,
        &["infra", "apps", "other"],
        &[("infra", "infra-v1"), ("other", "other-v1"), ("apps", "apps-v1"), ("apps", "apps-v2"), ("apps", "apps-v3")],
    )
    .await;
    world.tcp_backend("apps", "apps-tcp", 9000).await;
    world.tls_backend("apps", "apps-tls").await;
    world.apply_example_secret().await;
    world.apply_yaml(SCENARIOS).await;
    let address = world.programmed("infra", "gw").await;
    let http = world.socket(&address, 12080);
    let split = world.socket(&address, 12081);
    let pod =
        |reply: &portico_sandbox::Reply| reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_else(|| format!("HTTP {}", reply.status));

    thrice("same-namespace route", || async { world.expect_pod(http, "basic.test", "/", &[], "infra-v1").await }).await;
    thrice("cross-namespace backend with ReferenceGrant", || async { world.expect_pod(http, "cross.test", "/granted", &[], "infra-v1").await }).await;
    thrice("cross-namespace backend without ReferenceGrant is a 500", || async { world.expect_status(http, "cross.test", "/denied", &[], 500).await }).await;
    thrice("exact path", || async { world.expect_pod(http, "match.test", "/exact", &[], "apps-v2").await }).await;
    thrice("exact path does not match a longer path (falls to the catch-all)", || async {
        world.expect_pod(http, "match.test", "/exact/more", &[], "apps-v1").await
    })
    .await;
    thrice("method match", || async {
        let reply = portico_sandbox::http_request(http, "POST", "match.test", "/method", &[]).await.map_err(|e| e.to_string())?;
        let got = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string));
        (got.as_deref() == Some("apps-v3")).then_some(()).ok_or(format!("POST went to {got:?}"))?;
        world.expect_pod(http, "match.test", "/method", &[], "apps-v1").await
    })
    .await;
    thrice("prefix path is segment-aware", || async {
        world.expect_pod(http, "match.test", "/prefix/a", &[], "apps-v2").await?;
        world.expect_pod(http, "match.test", "/prefixed", &[], "apps-v1").await
    })
    .await;
    thrice("regular expression path", || async { world.expect_pod(http, "match.test", "/re/42", &[], "apps-v3").await }).await;
    thrice("header match", || async { world.expect_pod(http, "match.test", "/x", &[("x-version", "two")], "apps-v2").await }).await;
    thrice("query match", || async { world.expect_pod(http, "match.test", "/x?q=three", &[], "apps-v3").await }).await;
    thrice("match order across routes: longest prefix, then most headers", || async {
        world.expect_pod(http, "across.test", "/v2/x", &[], "apps-v2").await?;
        world.expect_pod(http, "across.test", "/v2/x", &[("version", "two")], "apps-v3").await?;
        world.expect_pod(http, "across.test", "/other", &[], "apps-v1").await
    })
    .await;
    thrice("unmatched host is a 404", || async { world.expect_status(http, "nobody.test", "/", &[], 404).await }).await;
    thrice("request and response header modifiers", || async {
        let reply = world.get(http, "filters.test", "/headers", &[("x-remove", "gone"), ("x-add", "original")]).await?;
        let echo = reply.echo().ok_or("no echo")?;
        let headers = &echo["headers"];
        if headers["x-set"] != json!(["set-by-portico"]) || headers.get("x-remove").is_some() || !headers["x-add"].to_string().contains("added") {
            return Err(format!("request headers not modified: {headers}"));
        }
        (reply.header("x-response") == Some("from-portico")).then_some(()).ok_or_else(|| format!("response header missing: {:?}", reply.headers))
    })
    .await;
    thrice("redirect", || async {
        let reply = world.get(http, "filters.test", "/redirect/x?y=1", &[]).await?;
        let location = reply.header("location").unwrap_or_default().to_string();
        (reply.status == 301 && location == "https://elsewhere.test/redirect/x?y=1").then_some(()).ok_or(format!("{} {location}", reply.status))
    })
    .await;
    thrice("path prefix rewrite", || async { world.expect_echo(http, "filters.test", "/old/page", "path", "/new/page").await }).await;
    thrice("full path and host rewrite", || async {
        world.expect_echo(http, "filters.test", "/full/page", "path", "/replaced").await?;
        world.expect_echo(http, "filters.test", "/full/page", "host", "rewritten.test").await
    })
    .await;
    thrice("rule without backends is a 500", || async { world.expect_status(http, "filters.test", "/nobackend", &[], 500).await }).await;
    thrice("listener hostname: exact listener beats wildcard", || async {
        world.expect_pod(split, "foo.example.com", "/", &[], "apps-v1").await?;
        world.expect_pod(split, "bar.example.com", "/", &[], "apps-v2").await
    })
    .await;
    thrice("hostname intersection ignores hostnames outside the listener", || async { world.expect_status(split, "example.net", "/", &[], 404).await }).await;
    thrice("HTTPS listener terminates TLS with the certificate from the Secret", || async {
        world.expect_https_pod(&address, 12443, "secure.example.com", "apps-v3").await
    })
    .await;
    thrice("TLS passthrough routed by SNI to a backend that terminates TLS itself", || async {
        world.expect_https_pod(&address, 12083, "pass.example.com", "apps-tls").await
    })
    .await;
    thrice("HTTPS and TLS passthrough sharing port 443, split by SNI", || async {
        world.expect_https_pod(&address, 12443, "pass443.example.com", "apps-tls").await?;
        world.expect_https_pod(&address, 12443, "secure.example.com", "apps-v3").await
    })
    .await;
    thrice("TCPRoute", || async { world.expect_tcp_banner(&address, 12082, "apps-tcp").await }).await;
    // Weights 80/20 within 5 points over 500 requests.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..500 {
        let reply = world.get(http, "filters.test", "/weighted", &[]).await.expect("weighted request");
        *counts.entry(pod(&reply)).or_default() += 1;
    }
    let share = counts.get("apps-v1").copied().unwrap_or(0) as f64 / 5.0;
    assert!((75.0..=85.0).contains(&share), "weights 80/20 gave {counts:?}");
    eprintln!("scenario ok: weights 80/20 -> {counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_route_edit_and_gateway_deletion() {
    let world = World::start("127.0.2.1-127.0.2.9", 13000, &["infra"], &[("infra", "v1"), ("infra", "v2")]).await;
    world
        .apply_yaml(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: haproxy\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: infra}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: v1, port: 8080}]\n",
        )
        .await;
    let address = world.programmed("infra", "gw").await;
    let http = world.socket(&address, 13080);
    // The Gateway can be Programmed a pass before its route is: wait for the route itself.
    let start = Instant::now();
    while let Err(why) = world.expect_pod(http, "any.test", "/", &[], "v1").await {
        assert!(start.elapsed() < Duration::from_secs(5), "initial route not served: {why}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = Vec::new();
    for i in 0..20 {
        let (to, name) = if i % 2 == 0 { ("v2", "v2") } else { ("v1", "v1") };
        let edited = format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: infra}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - backendRefs: [{{name: {to}, port: 8080}}]\n"
        );
        let start = Instant::now();
        world.apply_yaml(&edited).await;
        loop {
            if world.expect_pod(http, "any.test", "/", &[], name).await.is_ok() {
                break;
            }
            // A bound that catches a stuck or lost edit, not a speed goal (the latencies printed
            // below are the figures): on 2 busy cores one reload can take over a second.
            assert!(start.elapsed() < Duration::from_secs(5), "route edit {i} not followed by traffic within 5 s (logs: {})", world.state_dir.display());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(start.elapsed());
    }
    eprintln!("route edit latencies: {latencies:?}");
    latencies.sort();
    eprintln!("route edit -> traffic: median {:?}, worst {:?} (20 edits)", latencies[10], latencies[19]);
    world.delete_gateway("infra", "gw").await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while world.get(http, "any.test", "/", &[]).await.is_ok() {
        assert!(Instant::now() < deadline, "the frontend still answers 3 s after the Gateway was deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
