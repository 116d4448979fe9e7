//! GATEWAY-HTTP scenarios about filters, rule order across routes and weights.

use std::collections::BTreeMap;

use crate::base::INFRA;
use crate::check::{Ctx, Expect, Outcome, get};
use crate::http::SAME;

fn route(name: &str, host: &str, rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{host}]\n  rules:\n{rules}"
    )
}

/// One rule: a path prefix, filters (YAML flow list), and optionally a backend.
fn rule(prefix: &str, filters: &str, backend: Option<&str>) -> String {
    let backends = backend.map(|b| format!("\n    backendRefs: [{{name: {b}, port: 8080}}]")).unwrap_or_default();
    format!("  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    filters: {filters}{backends}\n")
}

/// Apply `yaml`, wait for `name` to be Accepted with resolved references, check every
/// expectation on the `same-namespace` Gateway, delete again.
async fn run(c: &Ctx, name: &str, yaml: &str, expects: Vec<Expect>) -> Outcome {
    let a = c.apply(yaml).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, name, SAME).await?;
        let at = c.gw("same-namespace", 80);
        for e in &expects {
            c.traffic(at, e).await?;
        }
        Ok(())
    }
    .await;
    c.delete(a).await;
    r
}

fn modifier(kind: &str) -> [String; 5] {
    let field = if kind == "RequestHeaderModifier" { "requestHeaderModifier" } else { "responseHeaderModifier" };
    let f = |body: &str| format!("[{{type: {kind}, {field}: {{{body}}}}}]");
    [
        f("set: [{name: X-Header-Set, value: set-overwrites-values}]"),
        f("add: [{name: X-Header-Add, value: add-appends-values}]"),
        f("remove: [X-Header-Remove]"),
        f(
            "set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, {name: X-Header-Add-3, value: header-add-3}], remove: [X-Header-Remove-1, X-Header-Remove-2]",
        ),
        f(
            "set: [{name: X-Header-Set, value: header-set}], add: [{name: X-Header-Add, value: header-add}, {name: x-lowercase-add, value: lowercase-add}, {name: x-Mixedcase-ADD-1, value: mixedcase-add-1}, {name: X-mixeDcase-add-2, value: mixedcase-add-2}, {name: X-UPPERCASE-ADD, value: uppercase-add}], remove: [X-Header-Remove]",
        ),
    ]
}

fn modifier_rules(kind: &str) -> String {
    let [set, add, remove, multiple, case] = modifier(kind);
    let v1 = Some("infra-backend-v1");
    [rule("/set", &set, v1), rule("/add", &add, v1), rule("/remove", &remove, v1), rule("/multiple", &multiple, v1), rule("/case-insensitivity", &case, v1)]
        .concat()
}

/// [`modifier_rules`] for `RequestHeaderModifier` with each filter on the rule's backendRef.
pub fn backend_modifier_rules() -> String {
    let [set, add, remove, multiple, case] = modifier("RequestHeaderModifier");
    let rule = |prefix: &str, filters: &str| {
        format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080, filters: {filters}}}]\n"
        )
    };
    [rule("/set", &set), rule("/add", &add), rule("/remove", &remove), rule("/multiple", &multiple), rule("/case-insensitivity", &case)].concat()
}

/// What HTTPRouteRequestHeaderModifier (and its backend variant) expect the backend to see.
pub fn request_modifier_expects(h: &str) -> Vec<Expect> {
    let v1 = |e: Expect| e.to(INFRA, "infra-backend-v1");
    vec![
        v1(get(h, "/set").header("Some-Other-Header", "val").saw_header("Some-Other-Header", "val").saw_header("X-Header-Set", "set-overwrites-values")),
        v1(get(h, "/set").header("Some-Other-Header", "val").header("X-Header-Set", "some-other-value").saw_header("X-Header-Set", "set-overwrites-values")),
        v1(get(h, "/add").header("Some-Other-Header", "val").saw_header("Some-Other-Header", "val").saw_header("X-Header-Add", "add-appends-values")),
        v1(get(h, "/add").header("X-Header-Add", "some-other-value").saw_header("X-Header-Add", "some-other-value,add-appends-values")),
        v1(get(h, "/remove").header("X-Header-Remove", "val").saw_no_header("X-Header-Remove")),
        v1(get(h, "/multiple")
            .header("X-Header-Set-2", "set-val-2")
            .header("X-Header-Add-2", "add-val-2")
            .header("X-Header-Remove-2", "remove-val-2")
            .header("Another-Header", "another-header-val")
            .saw_header("X-Header-Set-1", "header-set-1")
            .saw_header("X-Header-Set-2", "header-set-2")
            .saw_header("X-Header-Add-1", "header-add-1")
            .saw_header("X-Header-Add-2", "add-val-2,header-add-2")
            .saw_header("X-Header-Add-3", "header-add-3")
            .saw_header("Another-Header", "another-header-val")
            .saw_no_header("X-Header-Remove-1")
            .saw_no_header("X-Header-Remove-2")),
        v1(get(h, "/case-insensitivity")
            .header("x-header-set", "original-val-set")
            .header("x-header-add", "original-val-add")
            .header("x-header-remove", "original-val-remove")
            .header("Another-Header", "another-header-val")
            .saw_header("X-Header-Set", "header-set")
            .saw_header("X-Header-Add", "original-val-add,header-add")
            .saw_header("Another-Header", "another-header-val")
            .saw_no_header("x-header-remove")),
    ]
}

pub async fn request_header_modifier(c: &Ctx) -> Outcome {
    let h = "request-header-modifier.conformance.test";
    run(c, "request-header-modifier", &route("request-header-modifier", h, &modifier_rules("RequestHeaderModifier")), request_modifier_expects(h)).await
}

pub async fn response_header_modifier(c: &Ctx) -> Outcome {
    let h = "response-header-modifier.conformance.test";
    let v1 = |e: Expect| e.to(INFRA, "infra-backend-v1");
    let expects = vec![
        v1(get(h, "/set")
            .backend_sets("Some-Other-Header", "val")
            .replies_header("Some-Other-Header", "val")
            .replies_header("X-Header-Set", "set-overwrites-values")),
        v1(get(h, "/set")
            .backend_sets("Some-Other-Header", "val")
            .backend_sets("X-Header-Set", "some-other-value")
            .replies_header("X-Header-Set", "set-overwrites-values")),
        v1(get(h, "/add")
            .backend_sets("Some-Other-Header", "val")
            .replies_header("Some-Other-Header", "val")
            .replies_header("X-Header-Add", "add-appends-values")),
        v1(get(h, "/add")
            .backend_sets("Some-Other-Header", "val")
            .backend_sets("X-Header-Add", "some-other-value")
            .replies_header("X-Header-Add", "some-other-value,add-appends-values")),
        v1(get(h, "/remove").backend_sets("X-Header-Remove", "val").replies_no_header("X-Header-Remove")),
        v1(get(h, "/multiple")
            .backend_sets("X-Header-Set-2", "set-val-2")
            .backend_sets("X-Header-Add-2", "add-val-2")
            .backend_sets("X-Header-Remove-2", "remove-val-2")
            .backend_sets("Another-Header", "another-header-val")
            .backend_sets("X-Header-Remove-1", "val")
            .replies_header("X-Header-Set-1", "header-set-1")
            .replies_header("X-Header-Set-2", "header-set-2")
            .replies_header("X-Header-Add-1", "header-add-1")
            .replies_header("X-Header-Add-2", "add-val-2,header-add-2")
            .replies_header("X-Header-Add-3", "header-add-3")
            .replies_header("Another-Header", "another-header-val")
            .replies_no_header("X-Header-Remove-1")
            .replies_no_header("X-Header-Remove-2")),
        v1(get(h, "/case-insensitivity")
            .backend_sets("x-header-set", "original-val-set")
            .backend_sets("x-header-add", "original-val-add")
            .backend_sets("x-header-remove", "original-val-remove")
            .backend_sets("Another-Header", "another-header-val")
            .replies_header("X-Header-Set", "header-set")
            .replies_header("X-Header-Add", "original-val-add,header-add")
            .replies_header("X-Lowercase-Add", "lowercase-add")
            .replies_header("X-Mixedcase-Add-1", "mixedcase-add-1")
            .replies_header("X-Mixedcase-Add-2", "mixedcase-add-2")
            .replies_header("X-Uppercase-Add", "uppercase-add")
            .replies_header("Another-Header", "another-header-val")
            .replies_no_header("x-header-remove")),
    ];
    run(c, "response-header-modifier", &route("response-header-modifier", h, &modifier_rules("ResponseHeaderModifier")), expects).await
}

fn redirect(body: &str) -> String {
    format!("[{{type: RequestRedirect, requestRedirect: {{{body}}}}}]")
}

pub async fn redirect_host_and_status(c: &Ctx) -> Outcome {
    let h = "redirect-host-and-status.conformance.test";
    let rules = [
        rule("/hostname-redirect", &redirect("hostname: example.org"), None),
        rule("/host-and-status", &redirect("statusCode: 301, hostname: example.org"), None),
    ]
    .concat();
    let expects = vec![
        get(h, "/hostname-redirect").redirect(302, "http://example.org/hostname-redirect"),
        get(h, "/host-and-status").redirect(301, "http://example.org/host-and-status"),
    ];
    run(c, "redirect-host-and-status", &route("redirect-host-and-status", h, &rules), expects).await
}

pub async fn redirect_path(c: &Ctx) -> Outcome {
    let h = "redirect-path.conformance.test";
    let rules = [
        rule("/original-prefix", &redirect("path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}"), None),
        rule("/full", &redirect("path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}"), None),
        rule("/path-and-host", &redirect("hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}"), None),
        rule("/path-and-status", &redirect("path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}, statusCode: 301"), None),
        rule("/full-path-and-host", &redirect("hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}"), None),
        rule("/full-path-and-status", &redirect("path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}, statusCode: 301"), None),
    ]
    .concat();
    let expects = vec![
        get(h, "/original-prefix/lemon").redirect(302, &format!("http://{h}/replacement-prefix/lemon")),
        get(h, "/full/path/original").redirect(302, &format!("http://{h}/full-path-replacement")),
        get(h, "/path-and-host").redirect(302, "http://example.org/replacement-prefix"),
        get(h, "/path-and-status").redirect(301, &format!("http://{h}/replacement-prefix")),
        get(h, "/full-path-and-host").redirect(302, "http://example.org/replacement-full"),
        get(h, "/full-path-and-status").redirect(301, &format!("http://{h}/replacement-full")),
    ];
    run(c, "redirect-path", &route("redirect-path", h, &rules), expects).await
}

pub async fn redirect_port(c: &Ctx) -> Outcome {
    let h = "redirect-port.conformance.test";
    let rules = [
        rule("/port", &redirect("port: 8083"), None),
        rule("/port-and-host", &redirect("hostname: example.org, port: 8083"), None),
        rule("/port-and-status", &redirect("port: 8083, statusCode: 301"), None),
        rule("/port-and-host-and-status", &redirect("port: 8083, hostname: example.org, statusCode: 302"), None),
    ]
    .concat();
    let expects = vec![
        get(h, "/port").redirect(302, &format!("http://{h}:8083/port")),
        get(h, "/port-and-host").redirect(302, "http://example.org:8083/port-and-host"),
        get(h, "/port-and-status").redirect(301, &format!("http://{h}:8083/port-and-status")),
        get(h, "/port-and-host-and-status").redirect(302, "http://example.org:8083/port-and-host-and-status"),
    ];
    run(c, "redirect-port", &route("redirect-port", h, &rules), expects).await
}

pub async fn redirect_scheme(c: &Ctx) -> Outcome {
    let h = "redirect-scheme.conformance.test";
    let rules = [
        rule("/scheme", &redirect("scheme: https"), None),
        rule("/scheme-and-host", &redirect("hostname: example.org, scheme: https"), None),
        rule("/scheme-and-status", &redirect("scheme: https, statusCode: 301"), None),
        rule("/scheme-and-host-and-status", &redirect("scheme: https, statusCode: 302, hostname: example.org"), None),
    ]
    .concat();
    let expects = vec![
        get(h, "/scheme").redirect(302, &format!("https://{h}/scheme")),
        get(h, "/scheme-and-host").redirect(302, "https://example.org/scheme-and-host"),
        get(h, "/scheme-and-status").redirect(301, &format!("https://{h}/scheme-and-status")),
        get(h, "/scheme-and-host-and-status").redirect(302, "https://example.org/scheme-and-host-and-status"),
    ];
    run(c, "redirect-scheme", &route("redirect-scheme", h, &rules), expects).await
}

/// HTTPRoute303Redirect, HTTPRoute307Redirect, HTTPRoute308Redirect.
pub async fn redirect_status(c: &Ctx, code: u16, prefix: &str) -> Outcome {
    let name = format!("{code}-redirect");
    let h = format!("{name}.conformance.test");
    let rules = rule(prefix, &redirect(&format!("statusCode: {code}")), None);
    run(c, &name, &route(&name, &h, &rules), vec![get(&h, prefix).redirect(code, &format!("http://{h}{prefix}"))]).await
}

const MODIFY: &str = "{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}";

fn modified(e: Expect) -> Expect {
    e.header("X-Header-Remove", "remove-val")
        .header("X-Header-Add-Append", "append-val-1")
        .saw_header("X-Header-Set", "set-overwrites-values")
        .saw_header("X-Header-Add", "header-val-1")
        .saw_header("X-Header-Add-Append", "append-val-1,header-val-2")
        .saw_no_header("X-Header-Remove")
}

pub async fn rewrite_host(c: &Ctx) -> Outcome {
    let h = "rewrite.example";
    let rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /one}}}}]\n    filters: [{{type: URLRewrite, urlRewrite: {{hostname: one.example.org}}}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n  - filters: [{{type: URLRewrite, urlRewrite: {{hostname: example.org}}}}]\n    backendRefs: [{{name: infra-backend-v2, port: 8080}}]\n  - matches: [{{path: {{type: PathPrefix, value: /rewrite-host-and-modify-headers}}}}]\n    filters: [{{type: URLRewrite, urlRewrite: {{hostname: test.example.org}}}}, {MODIFY}]\n    backendRefs: [{{name: infra-backend-v2, port: 8080}}]\n"
    );
    let expects = vec![
        get(h, "/one").to(INFRA, "infra-backend-v1").saw_host("one.example.org"),
        get(h, "/two").to(INFRA, "infra-backend-v2").saw_host("example.org"),
        modified(get(h, "/rewrite-host-and-modify-headers").to(INFRA, "infra-backend-v2").saw_host("test.example.org")),
    ];
    run(c, "rewrite-host", &route("rewrite-host", h, &rules), expects).await
}

pub async fn rewrite_path(c: &Ctx) -> Outcome {
    let h = "rewrite-path.conformance.test";
    let v1 = Some("infra-backend-v1");
    let rw = |body: &str| format!("[{{type: URLRewrite, urlRewrite: {{path: {{{body}}}}}}}]");
    let rw_mod = |body: &str| format!("[{{type: URLRewrite, urlRewrite: {{path: {{{body}}}}}}}, {MODIFY}]");
    let rules = [
        rule("/prefix/one", &rw("type: ReplacePrefixMatch, replacePrefixMatch: /one"), v1),
        rule("/strip-prefix", &rw("type: ReplacePrefixMatch, replacePrefixMatch: /"), v1),
        rule("/full/one", &rw("type: ReplaceFullPath, replaceFullPath: /one"), v1),
        rule("/full/rewrite-path-and-modify-headers", &rw_mod("type: ReplaceFullPath, replaceFullPath: /test"), v1),
        rule("/prefix/rewrite-path-and-modify-headers", &rw_mod("type: ReplacePrefixMatch, replacePrefixMatch: /prefix"), v1),
    ]
    .concat();
    let v1 = |e: Expect| e.to(INFRA, "infra-backend-v1");
    let expects = vec![
        v1(get(h, "/prefix/one/two").saw_path("/one/two")),
        v1(get(h, "/strip-prefix/three").saw_path("/three")),
        v1(get(h, "/strip-prefix").saw_path("/")),
        v1(get(h, "/full/one/two").saw_path("/one")),
        v1(modified(get(h, "/full/rewrite-path-and-modify-headers/test").saw_path("/test"))),
        v1(modified(get(h, "/prefix/rewrite-path-and-modify-headers/one").saw_path("/prefix/one"))),
    ];
    run(c, "rewrite-path", &route("rewrite-path", h, &rules), expects).await
}

pub async fn matching_across_routes(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: matching-part1, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [example.com, example.net]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /}}}}, {{headers: [{{name: version, value: one}}]}}]\n    backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: matching-part2, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [example.com]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /v2}}}}, {{headers: [{{name: version, value: two}}]}}]\n    backendRefs: [{{name: infra-backend-v2, port: 8080}}]\n"
    );
    let (v1, v2) = ("infra-backend-v1", "infra-backend-v2");
    let expects = vec![
        get("example.com", "/").to(INFRA, v1),
        get("example.com", "/example").to(INFRA, v1),
        get("example.net", "/example").to(INFRA, v1),
        get("example.com", "/example").header("Version", "one").to(INFRA, v1),
        get("example.com", "/v2").to(INFRA, v2),
        get("example.net", "/v2").to(INFRA, v1),
        get("example.com", "/v2/example").to(INFRA, v2),
        get("example.com", "/").header("Version", "two").to(INFRA, v2),
    ];
    let a = c.apply(&yaml).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "matching-part1", SAME).await?;
        c.route_accepted("HTTPRoute", INFRA, "matching-part2", SAME).await?;
        let at = c.gw("same-namespace", 80);
        for e in &expects {
            c.traffic(at, e).await?;
        }
        Ok(())
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn path_match_order(c: &Ctx) -> Outcome {
    let h = "path-match-order.conformance.test";
    let r = |kind: &str, value: &str, backend: &str| {
        format!("  - matches: [{{path: {{type: {kind}, value: {value}}}}}]\n    backendRefs: [{{name: {backend}, port: 8080}}]\n")
    };
    let rules = [
        r("Exact", "/match", "infra-backend-v1"),
        r("Exact", "/match/exact", "infra-backend-v2"),
        r("Exact", "/match/exact/one", "infra-backend-v3"),
        r("PathPrefix", "/match/", "infra-backend-v3"),
        r("PathPrefix", "/match/prefix/", "infra-backend-v1"),
        r("PathPrefix", "/match/prefix/one", "infra-backend-v2"),
    ]
    .concat();
    let expects = vec![
        get(h, "/match/exact/one").to(INFRA, "infra-backend-v3"),
        get(h, "/match/exact").to(INFRA, "infra-backend-v2"),
        get(h, "/match").to(INFRA, "infra-backend-v1"),
        get(h, "/match/prefix/one/any").to(INFRA, "infra-backend-v2"),
        get(h, "/match/prefix/any").to(INFRA, "infra-backend-v1"),
        get(h, "/match/any").to(INFRA, "infra-backend-v3"),
    ];
    run(c, "path-matching-order", &route("path-matching-order", h, &rules), expects).await
}

/// Requests per weighted-backend check. HAProxy splits weights with one `rand()` draw per
/// request, so the shares are binomial: with upstream's 500 a 70% share leaves the 5-point
/// tolerance about once in 70 runs; with 1,000 about once in 1,700 (3.45 standard deviations).
pub const WEIGHT_SAMPLES: usize = 1000;

/// 70/30/0 over `WEIGHT_SAMPLES` requests, each share within 5 points (upstream's tolerance).
pub async fn weight(c: &Ctx) -> Outcome {
    let h = "weight.conformance.test";
    let rules = "  - backendRefs: [{name: infra-backend-v1, port: 8080, weight: 70}, {name: infra-backend-v2, port: 8080, weight: 30}, {name: infra-backend-v3, port: 8080, weight: 0}]\n";
    let a = c.apply(&route("weighted-backends", h, rules)).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "weighted-backends", SAME).await?;
        let at = c.gw("same-namespace", 80);
        c.traffic(at, &get(h, "/")).await?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..WEIGHT_SAMPLES {
            let reply = portico_sandbox::http_get(at, h, "/", &[]).await.map_err(|e| e.to_string())?;
            let pod = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_else(|| format!("HTTP {}", reply.status));
            let service = ["infra-backend-v1", "infra-backend-v2", "infra-backend-v3"]
                .into_iter()
                .find(|s| pod.starts_with(&format!("{s}-")))
                .map(str::to_string)
                .unwrap_or(pod);
            *counts.entry(service).or_default() += 1;
        }
        let share = |s: &str| counts.get(s).copied().unwrap_or(0) as f64 * 100.0 / WEIGHT_SAMPLES as f64;
        let ok = (65.0..=75.0).contains(&share("infra-backend-v1")) && (25.0..=35.0).contains(&share("infra-backend-v2")) && share("infra-backend-v3") == 0.0;
        ok.then_some(()).ok_or_else(|| format!("weights 70/30/0 gave {counts:?} over {WEIGHT_SAMPLES} requests"))
    }
    .await;
    c.delete(a).await;
    r
}
