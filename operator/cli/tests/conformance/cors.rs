//! HTTPRouteCORS: the CORS filter answered by HAProxy, with the cases upstream's scenario checks
//! (exact and wildcard origins, a wildcard any number of labels deep, a non-matching origin,
//! wildcard methods with and without credentials, a wildcard origin with a port) on preflight
//! requests (answered without a backend) and on simple requests (answered by the backend, with
//! the CORS response headers).

use crate::base::INFRA;
use crate::check::{Ctx, Expect, Outcome, get};
use crate::http::SAME;

const HOST: &str = "cors.conformance.test";

fn rule(path: &str, cors: &str) -> String {
    format!(
        "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    filters: [{{type: CORS, cors: {cors}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n"
    )
}

fn preflight(path: &str, origin: &str, method: &str) -> Expect {
    get(HOST, path).method("OPTIONS").header("origin", origin).header("access-control-request-method", method).status(204)
}

fn simple(method: &'static str, path: &str, origin: &str) -> Expect {
    get(HOST, path).method(method).header("origin", origin).to(INFRA, "infra-backend-v1")
}

pub async fn cors(c: &Ctx) -> Outcome {
    let rules = [
        rule(
            "/cors-1",
            "{allowOrigins: [\"https://www.foo.com\", \"https://*.bar.com\"], allowMethods: [GET, OPTIONS], allowHeaders: [x-header-1, x-header-2], exposeHeaders: [x-header-3, x-header-4], maxAge: 3600, allowCredentials: true}",
        ),
        rule("/cors-2", "{allowOrigins: [\"https://www.foo.com\"], allowMethods: [\"*\"]}"),
        rule("/cors-wildcard-origin", "{allowOrigins: [\"*\"], allowMethods: [PUT]}"),
        rule("/cors-wildcard-methods-headers", "{allowOrigins: [\"https://*.foo.com\"], allowMethods: [\"*\"], allowHeaders: [\"*\"], allowCredentials: true}"),
    ]
    .concat();
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: cors, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{HOST}]\n  rules:\n{rules}"
    );
    c.scoped(&yaml, || async {
        c.route_accepted("HTTPRoute", INFRA, "cors", SAME).await?;
        let at = c.gw("same-namespace", 80);
        for origin in ["https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com"] {
            let expect = preflight("/cors-1", origin, "GET")
                .header("access-control-request-headers", "x-header-1, x-header-2")
                .replies_header("access-control-allow-origin", origin)
                .replies_header("access-control-allow-methods", "GET, OPTIONS")
                .replies_header("access-control-allow-headers", "x-header-1, x-header-2")
                .replies_header("access-control-expose-headers", "x-header-3, x-header-4")
                .replies_header("access-control-max-age", "3600")
                .replies_header("access-control-allow-credentials", "true");
            c.traffic(at, &expect).await?;
        }
        c.traffic(at, &preflight("/cors-1", "https://foobar.com", "GET").replies_no_header("access-control-allow-origin")).await?;
        for origin in ["https://www.foo.com", "https://www.bar.com"] {
            let expect = simple("GET", "/cors-1", origin)
                .replies_header("access-control-allow-origin", origin)
                .replies_header("access-control-allow-credentials", "true");
            c.traffic(at, &expect).await?;
        }
        c.traffic(at, &simple("GET", "/cors-1", "https://foobar.com").replies_no_header("access-control-allow-origin")).await?;
        let wildcard_methods = preflight("/cors-2", "https://www.foo.com", "POST")
            .replies_header("access-control-allow-methods", "*")
            .replies_header("access-control-allow-origin", "https://www.foo.com")
            .replies_no_header("access-control-allow-credentials");
        c.traffic(at, &wildcard_methods).await?;
        for origin in ["https://foobar.com", "https://foobar.com:12345"] {
            let expect = preflight("/cors-wildcard-origin", origin, "PUT")
                .replies_header("access-control-allow-origin", origin)
                .replies_header("access-control-allow-methods", "PUT")
                .replies_no_header("access-control-allow-credentials");
            c.traffic(at, &expect).await?;
            c.traffic(at, &simple("PUT", "/cors-wildcard-origin", origin).replies_header("access-control-allow-origin", origin)).await?;
        }
        // With credentials a wildcard is never sent: the requested method and headers are echoed.
        let echoed = preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT")
            .header("access-control-request-headers", "x-header-1, x-header-2")
            .replies_header("access-control-allow-origin", "https://other.foo.com")
            .replies_header("access-control-allow-methods", "PUT")
            .replies_header("access-control-allow-headers", "x-header-1, x-header-2")
            .replies_header("access-control-allow-credentials", "true");
        c.traffic(at, &echoed).await?;
        let no_headers = preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT").replies_no_header("access-control-allow-headers");
        c.traffic(at, &no_headers).await
    })
    .await
}
