//! HTTPRouteRetry: upstream's cases against the echo's retry simulation (`responseCode`,
//! `succeedAfter`, a fresh `uuid` per probe so every probe counts its own attempts), through
//! HAProxy's `retry-on` backends. `attempts` counts retries after the first try.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::INFRA;
use crate::check::{Ctx, Outcome, is_pod_of};
use crate::http::SAME;

static PROBE: AtomicU64 = AtomicU64::new(0);

fn rule(path: &str, retry: &str) -> String {
    format!("  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    retry: {retry}\n    backendRefs: [{{name: infra-backend-v3, port: 8080}}]\n")
}

pub async fn retry(c: &Ctx) -> Outcome {
    let rules =
        [rule("/retry/code-500-attempts-3", "{codes: [500], attempts: 3}"), rule("/retry/code-all-attempts-2", "{codes: [500, 502, 503, 504], attempts: 2}")];
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: retries, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  rules:\n{}",
        rules.concat()
    );
    let cases: &[(&str, u16, u32, u16)] = &[
        ("/retry/code-500-attempts-3", 500, 2, 200),
        ("/retry/code-500-attempts-3", 500, 4, 500),
        ("/retry/code-500-attempts-3", 503, 2, 503),
        ("/retry/code-all-attempts-2", 500, 1, 200),
        ("/retry/code-all-attempts-2", 500, 3, 500),
        ("/retry/code-all-attempts-2", 502, 1, 200),
        ("/retry/code-all-attempts-2", 502, 3, 502),
        ("/retry/code-all-attempts-2", 503, 1, 200),
        ("/retry/code-all-attempts-2", 503, 3, 503),
        ("/retry/code-all-attempts-2", 504, 1, 200),
        ("/retry/code-all-attempts-2", 504, 3, 504),
    ];
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "retries", SAME).await?;
        let at = c.gw("same-namespace", 80);
        for (path, code, succeed_after, want) in cases {
            let what = format!("GET {path} failing {succeed_after} times with {code} via {at}: HTTP {want}");
            c.consistently(&what, || async {
                let probe = PROBE.fetch_add(1, Ordering::Relaxed);
                let query = format!("{path}?responseCode={code}&succeedAfter={succeed_after}&uuid=probe-{}-{probe}", std::process::id());
                let reply = portico_sandbox::http_get(at, "retry.conformance.test", &query, &[]).await.map_err(|e| e.to_string())?;
                let pod = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_default();
                if reply.status != *want || !is_pod_of(&pod, "infra-backend-v3") {
                    return Err(format!("HTTP {} from {pod:?}", reply.status));
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    })
    .await
}
