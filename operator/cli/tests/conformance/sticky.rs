//! Beyond upstream (no Gateway API feature name yet): cookie-based session persistence through
//! HAProxy. infra-backend-v1 has two Pods; without the cookie requests alternate between them,
//! with the cookie HAProxy set every request reaches the Pod that answered first.

use crate::base::INFRA;
use crate::check::{Ctx, Outcome};
use crate::http::SAME;

const HOST: &str = "sticky.conformance.test";

async fn pod_and_cookie(c: &Ctx, cookie: Option<&str>) -> Result<(String, Option<String>), String> {
    let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("cookie", c)]).unwrap_or_default();
    let reply = portico_sandbox::http_get(c.gw("same-namespace", 80), HOST, "/sticky", &headers).await.map_err(|e| e.to_string())?;
    let pod = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string)).ok_or_else(|| format!("HTTP {} without an echo", reply.status))?;
    let set = reply.header("set-cookie").map(|v| v.split(';').next().unwrap_or_default().to_string());
    Ok((pod, set))
}

pub async fn session_persistence(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: sticky, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{HOST}]\n  rules:\n  - sessionPersistence: {{sessionName: portico-sticky, idleTimeout: 10m}}\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"
    );
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "sticky", SAME).await?;
        let found = std::sync::Mutex::new(None);
        c.until("a response setting the session cookie", || async {
            match pod_and_cookie(c, None).await? {
                (pod, Some(cookie)) if cookie.starts_with("portico-sticky=") => {
                    *found.lock().unwrap() = Some((pod, cookie));
                    Ok(())
                }
                (_, other) => Err(format!("Set-Cookie {other:?}")),
            }
        })
        .await?;
        let (first, cookie) = found.lock().unwrap().clone().ok_or("no session cookie")?;
        for _ in 0..20 {
            let (pod, _) = pod_and_cookie(c, Some(&cookie)).await?;
            if pod != first {
                return Err(format!("with {cookie} the request reached {pod}, not {first}"));
            }
        }
        // Without the cookie both Pods answer (so the stickiness above is the cookie's doing).
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            seen.insert(pod_and_cookie(c, None).await?.0);
        }
        (seen.len() == 2).then_some(()).ok_or_else(|| format!("without the cookie only {seen:?} answered"))
    })
    .await
}
