//! GATEWAY-HTTP core scenarios: routing by path, header, query and method, namespaces,
//! hostnames, invalid references and ReferenceGrants. Each route carries a hostname of its own
//! (`<scenario>.conformance.test`) where upstream's has none, so scenarios cannot see each
//! other's routes on the shared Gateways.

use crate::base::{INFRA, WEB};
use crate::check::{Ctx, Expect, Outcome, get};

pub const SAME: (&str, &str) = (INFRA, "same-namespace");

/// A route of `kind` named `name` in the infrastructure namespace on the `same-namespace` Gateway.
fn route(name: &str, host: &str, rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace}}]\n  hostnames: [{host}]\n  rules:\n{rules}"
    )
}

async fn all(c: &Ctx, gw: &str, expects: Vec<Expect>) -> Outcome {
    let at = c.gw(gw, 80);
    for expect in &expects {
        c.traffic(at, expect).await?;
    }
    Ok(())
}

pub async fn simple_same_namespace(c: &Ctx) -> Outcome {
    let h = "simple.conformance.test";
    let a = c.apply(&route("gateway-conformance-infra-test", h, "  - backendRefs: [{name: infra-backend-v1, port: 8080}]\n")).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "gateway-conformance-infra-test", SAME).await?;
        all(c, "same-namespace", vec![get(h, "/").to(INFRA, "infra-backend-v1")]).await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn matching(c: &Ctx) -> Outcome {
    let h = "matching.conformance.test";
    let rules = "  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n";
    let a = c.apply(&route("matching", h, rules)).await?;
    let (v1, v2) = ("infra-backend-v1", "infra-backend-v2");
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "matching", SAME).await?;
        all(
            c,
            "same-namespace",
            vec![
                get(h, "/").to(INFRA, v1),
                get(h, "/example").to(INFRA, v1),
                get(h, "/").header("Version", "one").to(INFRA, v1),
                get(h, "/v2").to(INFRA, v2),
                get(h, "/v2/example").to(INFRA, v2),
                get(h, "/").header("Version", "two").to(INFRA, v2),
                get(h, "/v2/").to(INFRA, v2),
                get(h, "/v2example").to(INFRA, v1),
                get(h, "/foo/v2/example").to(INFRA, v1),
            ],
        )
        .await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn header_matching(c: &Ctx) -> Outcome {
    let h = "header-matching.conformance.test";
    let rules = "  - matches: [{headers: [{name: version, value: one}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{headers: [{name: version, value: two}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n";
    let a = c.apply(&route("header-matching", h, rules)).await?;
    let (v1, v2) = ("infra-backend-v1", "infra-backend-v2");
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "header-matching", SAME).await?;
        all(
            c,
            "same-namespace",
            vec![
                get(h, "/").header("Version", "one").to(INFRA, v1),
                get(h, "/").header("Version", "two").to(INFRA, v2),
                get(h, "/").header("Version", "two").header("Color", "orange").to(INFRA, v1),
                get(h, "/").header("Version", "two").header("Color", "blue").to(INFRA, v2),
                get(h, "/").header("Color", "orange").status(404),
                get(h, "/").header("Some-Other-Header", "one").status(404),
                get(h, "/").header("Color", "blue").to(INFRA, v1),
                get(h, "/").header("Color", "green").to(INFRA, v1),
                get(h, "/").header("Color", "red").to(INFRA, v2),
                get(h, "/").header("Color", "yellow").to(INFRA, v2),
                get(h, "/").header("Color", "purple").status(404),
            ],
        )
        .await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn query_param_matching(c: &Ctx) -> Outcome {
    let h = "query-param-matching.conformance.test";
    let rules = "  - matches: [{queryParams: [{name: animal, value: whale}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{queryParams: [{name: animal, value: dolphin}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{queryParams: [{name: animal, value: dolphin}, {name: color, value: blue}]}, {queryParams: [{name: ANIMAL, value: Whale}]}]\n    backendRefs: [{name: infra-backend-v3, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [{name: animal, value: whale}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{headers: [{name: version, value: one}], queryParams: [{name: animal, value: whale}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], queryParams: [{name: animal, value: whale}]}]\n    backendRefs: [{name: infra-backend-v3, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path3}, queryParams: [{name: animal, value: shark}]}, {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], queryParams: [{name: animal, value: kraken}]}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path5}}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{queryParams: [{name: animal, value: hydra}]}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{headers: [{name: version, value: four}]}]\n    backendRefs: [{name: infra-backend-v3, port: 8080}]\n";
    let a = c.apply(&route("query-param-matching", h, rules)).await?;
    let (v1, v2, v3) = ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3");
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "query-param-matching", SAME).await?;
        all(
            c,
            "same-namespace",
            vec![
                get(h, "/?animal=whale").to(INFRA, v1),
                get(h, "/?animal=dolphin").to(INFRA, v2),
                get(h, "/?animal=dolphin&color=blue").to(INFRA, v3),
                get(h, "/?ANIMAL=Whale").to(INFRA, v3),
                get(h, "/?animal=whale&otherparam=irrelevant").to(INFRA, v1),
                get(h, "/?animal=dolphin&color=yellow").to(INFRA, v2),
                get(h, "/?color=blue").status(404),
                get(h, "/?animal=dog").status(404),
                get(h, "/?animal=whaledolphin").status(404),
                get(h, "/").status(404),
                get(h, "/path1?animal=whale").to(INFRA, v1),
                get(h, "/?animal=whale").header("version", "one").to(INFRA, v2),
                get(h, "/path2?animal=whale").header("version", "two").to(INFRA, v3),
                get(h, "/path3?animal=shark").to(INFRA, v1),
                get(h, "/path4?animal=kraken").header("version", "three").to(INFRA, v1),
                get(h, "/?animal=shark").status(404),
                get(h, "/path4?animal=kraken").status(404),
                get(h, "/path5?animal=hydra").to(INFRA, v1),
                get(h, "/?animal=hydra").header("version", "four").to(INFRA, v3),
            ],
        )
        .await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn method_matching(c: &Ctx) -> Outcome {
    let h = "method-matching.conformance.test";
    let rules = "  - matches: [{method: POST}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{method: GET}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path1}, method: GET}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{headers: [{name: version, value: one}], method: PUT}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], method: POST}]\n    backendRefs: [{name: infra-backend-v3, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path3}, method: PATCH}, {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], method: DELETE}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /path5}}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{method: PATCH}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n  - matches: [{headers: [{name: version, value: four}]}]\n    backendRefs: [{name: infra-backend-v3, port: 8080}]\n";
    let a = c.apply(&route("method-matching", h, rules)).await?;
    let (v1, v2, v3) = ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3");
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "method-matching", SAME).await?;
        all(
            c,
            "same-namespace",
            vec![
                get(h, "/").method("POST").to(INFRA, v1),
                get(h, "/").to(INFRA, v2),
                get(h, "/").method("HEAD").status(404),
                get(h, "/path1").to(INFRA, v1),
                get(h, "/").method("PUT").header("version", "one").to(INFRA, v2),
                get(h, "/path2").method("POST").header("version", "two").to(INFRA, v3),
                get(h, "/path3").method("PATCH").to(INFRA, v1),
                get(h, "/path4").method("DELETE").header("version", "three").to(INFRA, v1),
                get(h, "/").method("PUT").status(404),
                get(h, "/path4").method("DELETE").status(404),
                get(h, "/path5").method("PATCH").to(INFRA, v1),
                get(h, "/").method("PATCH").header("version", "four").to(INFRA, v2),
            ],
        )
        .await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn exact_path_matching(c: &Ctx) -> Outcome {
    let h = "exact-matching.conformance.test";
    let rules = "  - matches: [{path: {type: Exact, value: /one}}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{path: {type: Exact, value: /two}}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n";
    let a = c.apply(&route("exact-matching", h, rules)).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "exact-matching", SAME).await?;
        all(
            c,
            "same-namespace",
            vec![
                get(h, "/one").to(INFRA, "infra-backend-v1"),
                get(h, "/two").to(INFRA, "infra-backend-v2"),
                get(h, "/").status(404),
                get(h, "/one/example").status(404),
                get(h, "/two/").status(404),
                get(h, "/Two").status(404),
            ],
        )
        .await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn cross_namespace(c: &Ctx) -> Outcome {
    let h = "cross-namespace.conformance.test";
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: cross-namespace, namespace: {WEB}}}\nspec:\n  parentRefs: [{{name: backend-namespaces, namespace: {INFRA}}}]\n  hostnames: [{h}]\n  rules:\n  - backendRefs: [{{name: web-backend, port: 8080}}]\n"
    );
    let a = c.apply(&yaml).await?;
    let r = async {
        c.route_accepted("HTTPRoute", WEB, "cross-namespace", (INFRA, "backend-namespaces")).await?;
        all(c, "backend-namespaces", vec![get(h, "/").to(WEB, "web-backend")]).await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn invalid_cross_namespace_parent_ref(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: invalid-cross-namespace-parent-ref, namespace: {WEB}}}\nspec:\n  parentRefs: [{{name: same-namespace, namespace: {INFRA}}}]\n  rules:\n  - backendRefs: [{{name: web-backend, port: 8080}}]\n"
    );
    let a = c.apply(&yaml).await?;
    let r = async {
        c.route_condition("HTTPRoute", WEB, "invalid-cross-namespace-parent-ref", SAME, "Accepted", "False", "NotAllowedByListeners").await?;
        c.route_condition("HTTPRoute", WEB, "invalid-cross-namespace-parent-ref", SAME, "ResolvedRefs", "True", "").await?;
        c.listener(INFRA, "same-namespace", "http", |l| crate::check::listener_is(l, &["HTTPRoute"], &[], 0)).await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn invalid_parent_ref_not_matching_section_name(c: &Ctx) -> Outcome {
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: httproute-listener-not-matching-section-name, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: same-namespace, namespace: {INFRA}, sectionName: http1}}]\n  rules:\n  - backendRefs: [{{name: infra-backend-v1, kind: Service, port: 8080}}]\n"
    );
    let a = c.apply(&yaml).await?;
    let r = async {
        c.route_condition("HTTPRoute", INFRA, "httproute-listener-not-matching-section-name", SAME, "Accepted", "False", "NoMatchingParent").await?;
        c.listener(INFRA, "same-namespace", "http", |l| crate::check::listener_is(l, &["HTTPRoute"], &[], 0)).await
    }
    .await;
    c.delete(a).await;
    r
}

/// A route on `same-namespace` whose only backend is `backend_ref`; the route must say
/// `ResolvedRefs=False/<reason>` and requests must get a 500.
async fn broken_backend(c: &Ctx, name: &str, backend_ref: &str, reason: &str, extra: &str) -> Outcome {
    let h = format!("{name}.conformance.test");
    let a = c.apply(&format!("{extra}{}", route(name, &h, &format!("  - backendRefs: [{backend_ref}]\n")))).await?;
    let r = async {
        c.route_condition("HTTPRoute", INFRA, name, SAME, "Accepted", "True", "").await?;
        c.route_condition("HTTPRoute", INFRA, name, SAME, "ResolvedRefs", "False", reason).await?;
        all(c, "same-namespace", vec![get(&h, "/").status(500)]).await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn invalid_cross_namespace_backend_ref(c: &Ctx) -> Outcome {
    broken_backend(c, "invalid-cross-namespace-backend-ref", &format!("{{name: web-backend, namespace: {WEB}, port: 8080}}"), "RefNotPermitted", "").await
}

pub async fn invalid_backend_ref_unknown_kind(c: &Ctx) -> Outcome {
    broken_backend(
        c,
        "invalid-backend-ref-unknown-kind",
        "{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}",
        "InvalidKind",
        "",
    )
    .await
}

pub async fn invalid_non_existent_backend_ref(c: &Ctx) -> Outcome {
    broken_backend(c, "invalid-nonexistent-backend-ref", "{name: nonexistent, port: 8080}", "BackendNotFound", "").await
}

pub async fn invalid_reference_grant(c: &Ctx) -> Outcome {
    let grant = |name: &str, ns: &str, from: &str, to: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  from: [{from}]\n  to: [{to}]\n---\n"
        )
    };
    let ok_from = format!("{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {INFRA}}}");
    let ok_to = "{group: \"\", kind: Service, name: web-backend}";
    let grants = [
        grant("reference-grant-wrong-namespace", INFRA, &ok_from, ok_to),
        grant("reference-grant-wrong-from-group", WEB, &format!("{{group: not-the-group-youre-looking-for, kind: HTTPRoute, namespace: {INFRA}}}"), ok_to),
        grant("reference-grant-wrong-from-kind", WEB, &format!("{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {INFRA}}}"), ok_to),
        grant(
            "reference-grant-wrong-from-namespace",
            WEB,
            "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: not-the-namespace-youre-looking-for}",
            ok_to,
        ),
        grant("reference-grant-wrong-to-group", WEB, &ok_from, "{group: not-the-group-youre-looking-for, kind: Service, name: web-backend}"),
        grant("reference-grant-wrong-to-kind", WEB, &ok_from, "{group: \"\", kind: Secret, name: web-backend}"),
        grant("reference-grant-wrong-to-name", WEB, &ok_from, "{group: \"\", kind: Service, name: not-the-service-youre-looking-for}"),
    ]
    .concat();
    broken_backend(c, "invalid-reference-grant", &format!("{{name: web-backend, namespace: {WEB}, port: 8080}}"), "RefNotPermitted", &grants).await
}

pub async fn reference_grant(c: &Ctx) -> Outcome {
    let h = "reference-grant.conformance.test";
    let grant = format!(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: reference-grant, namespace: {WEB}}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {INFRA}}}]\n  to: [{{group: \"\", kind: Service, name: web-backend}}]\n"
    );
    let granted = c.apply(&grant).await?;
    let a = c.apply(&route("reference-grant", h, &format!("  - backendRefs: [{{name: web-backend, namespace: {WEB}, port: 8080}}]\n"))).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "reference-grant", SAME).await?;
        all(c, "same-namespace", vec![get(h, "/").to(WEB, "web-backend")]).await?;
        c.delete(granted).await;
        c.route_condition("HTTPRoute", INFRA, "reference-grant", SAME, "ResolvedRefs", "False", "RefNotPermitted")
            .await
            .map_err(|e| format!("after deleting the ReferenceGrant: {e}"))?;
        all(c, "same-namespace", vec![get(h, "/").status(500)]).await.map_err(|e| format!("after deleting the ReferenceGrant: {e}"))
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn hostname_intersection(c: &Ctx) -> Outcome {
    let gw = |name: &str, listeners: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {}\n  listeners:\n{listeners}---\n",
            crate::base::CLASS
        )
    };
    let l = |name: &str, host: &str| {
        format!("  - {{name: {name}, port: 80, protocol: HTTP, hostname: \"{host}\", allowedRoutes: {{namespaces: {{from: Same}}}}}}\n")
    };
    let rt = |name: &str, parent: &str, hosts: &str, prefix: &str, backend: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{{name: {parent}, namespace: {INFRA}}}]\n  hostnames: [{hosts}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: \"{prefix}\"}}}}]\n    backendRefs: [{{name: {backend}, port: 8080}}]\n---\n"
        )
    };
    let g1 = "httproute-hostname-intersection";
    let g2 = "httproute-hostname-intersection-all";
    let yaml = [
        gw(g1, &[l("listener-1", "very.specific.com"), l("listener-2", "*.wildcard.io"), l("listener-3", "*.anotherwildcard.io")].concat()),
        gw(g2, "  - {name: listener-1, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}\n"),
        rt("specific-host-matches-listener-specific-host", g1, "non.matching.com, \"*.nonmatchingwildcard.io\", very.specific.com", "/s1", "infra-backend-v1"),
        rt(
            "specific-host-matches-listener-wildcard-host",
            g1,
            "non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io",
            "/s2",
            "infra-backend-v2",
        ),
        rt("wildcard-host-matches-listener-specific-host", g1, "non.matching.com, \"*.specific.com\"", "/s3", "infra-backend-v3"),
        rt("wildcard-host-matches-listener-wildcard-host", g1, "\"*.anotherwildcard.io\"", "/s4", "infra-backend-v1"),
        rt("no-intersecting-hosts", g1, "specific.but.wrong.com, wildcard.io", "/s5", "infra-backend-v2"),
        rt("httproute-hostname-intersection-all", g2, "first.com, sub.first.com, second.com, sub.second.com", "/", "infra-backend-v1"),
    ]
    .concat();
    let a = c.apply(&yaml).await?;
    let r = async {
        let address = c.programmed(INFRA, g1).await?;
        let at = c.at(&address, 80);
        for name in [
            "specific-host-matches-listener-specific-host",
            "specific-host-matches-listener-wildcard-host",
            "wildcard-host-matches-listener-specific-host",
            "wildcard-host-matches-listener-wildcard-host",
        ] {
            c.route_accepted("HTTPRoute", INFRA, name, (INFRA, g1)).await?;
        }
        c.route_condition("HTTPRoute", INFRA, "no-intersecting-hosts", (INFRA, g1), "Accepted", "False", "NoMatchingListenerHostname").await?;
        let (v1, v2, v3) = ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3");
        let expects = vec![
            get("very.specific.com", "/s1").to(INFRA, v1),
            get("very.specific.com:1234", "/s1").to(INFRA, v1),
            get("non.matching.com", "/s1").status(404),
            get("foo.nonmatchingwildcard.io", "/s1").status(404),
            get("foo.wildcard.io", "/s1").status(404),
            get("very.specific.com", "/non-matching-prefix").status(404),
            get("foo.wildcard.io", "/s2").to(INFRA, v2),
            get("bar.wildcard.io", "/s2").to(INFRA, v2),
            get("foo.bar.wildcard.io", "/s2").to(INFRA, v2),
            get("non.matching.com", "/s2").status(404),
            get("wildcard.io", "/s2").status(404),
            get("very.specific.com", "/s2").status(404),
            get("foo.wildcard.io", "/non-matching-prefix").status(404),
            get("very.specific.com", "/s3").to(INFRA, v3),
            get("non.matching.com", "/s3").status(404),
            get("foo.specific.com", "/s3").status(404),
            get("foo.wildcard.io", "/s3").status(404),
            get("foo.anotherwildcard.io", "/s4").to(INFRA, v1),
            get("bar.anotherwildcard.io", "/s4").to(INFRA, v1),
            get("foo.bar.anotherwildcard.io", "/s4").to(INFRA, v1),
            get("anotherwildcard.io", "/s4").status(404),
            get("foo.wildcard.io", "/s4").status(404),
            get("very.specific.com", "/s4").status(404),
            get("specific.but.wrong.com", "/s5").status(404),
            get("wildcard.io", "/s5").status(404),
        ];
        for e in &expects {
            c.traffic(at, e).await?;
        }
        c.route_accepted("HTTPRoute", INFRA, g2, (INFRA, g2)).await?;
        let at = c.at(&c.programmed(INFRA, g2).await?, 80);
        for e in [
            get("first.com", "/").to(INFRA, v1),
            get("sub.first.com", "/").to(INFRA, v1),
            get("second.com", "/").to(INFRA, v1),
            get("sub.second.com", "/").to(INFRA, v1),
            get("third.com", "/").status(404),
            get("sub.third.com", "/").status(404),
        ] {
            c.traffic(at, &e).await?;
        }
        Ok(())
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn listener_hostname_matching(c: &Ctx) -> Outcome {
    let g = "httproute-listener-hostname-matching";
    let l = |name: &str, host: &str| {
        format!("  - {{name: {name}, port: 80, protocol: HTTP, hostname: \"{host}\", allowedRoutes: {{namespaces: {{from: Same}}}}}}\n")
    };
    let rt = |name: &str, sections: &[&str], backend: &str| {
        let parents: Vec<String> = sections.iter().map(|s| format!("{{name: {g}, namespace: {INFRA}, sectionName: {s}}}")).collect();
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{}]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8080}}]\n",
            parents.join(", ")
        )
    };
    let yaml = [
        format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {g}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {}\n  listeners:\n", crate::base::CLASS),
        l("listener-1", "bar.com"),
        l("listener-2", "foo.bar.com"),
        l("listener-3", "*.bar.com"),
        l("listener-4", "*.foo.com"),
        rt("backend-v1", &["listener-1"], "infra-backend-v1"),
        rt("backend-v2", &["listener-2"], "infra-backend-v2"),
        rt("backend-v3", &["listener-3", "listener-4"], "infra-backend-v3"),
    ]
    .concat();
    let a = c.apply(&yaml).await?;
    let r = async {
        let at = c.at(&c.programmed(INFRA, g).await?, 80);
        for name in ["backend-v1", "backend-v2", "backend-v3"] {
            c.route_accepted("HTTPRoute", INFRA, name, (INFRA, g)).await?;
        }
        let (v1, v2, v3) = ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3");
        for e in [
            get("bar.com", "/").to(INFRA, v1),
            get("foo.bar.com", "/").to(INFRA, v2),
            get("baz.bar.com", "/").to(INFRA, v3),
            get("boo.bar.com", "/").to(INFRA, v3),
            get("multiple.prefixes.bar.com", "/").to(INFRA, v3),
            get("multiple.prefixes.foo.com", "/").to(INFRA, v3),
            get("foo.com", "/").status(404),
            get("no.matching.host", "/").status(404),
        ] {
            c.traffic(at, &e).await?;
        }
        Ok(())
    }
    .await;
    c.delete(a).await;
    r
}

/// Upstream's HTTPRouteNamedRule: a rule with a `name` beside one without routes as any other.
pub async fn named_rule(c: &Ctx) -> Outcome {
    let h = "named-rule.conformance.test";
    let rules = "  - name: named-rule\n    matches: [{path: {type: PathPrefix, value: /named}}]\n    backendRefs: [{name: infra-backend-v1, port: 8080}]\n  - matches: [{path: {type: PathPrefix, value: /unnamed}}]\n    backendRefs: [{name: infra-backend-v2, port: 8080}]\n";
    let a = c.apply(&route("named-rule", h, rules)).await?;
    let r = async {
        c.route_accepted("HTTPRoute", INFRA, "named-rule", SAME).await?;
        all(c, "same-namespace", vec![get(h, "/named").to(INFRA, "infra-backend-v1"), get(h, "/unnamed").to(INFRA, "infra-backend-v2")]).await
    }
    .await;
    c.delete(a).await;
    r
}
