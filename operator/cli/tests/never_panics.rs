//! Property: translation never panics, whatever combination of valid-shaped objects it gets
//! (hostile strings included: non-ASCII and malformed hostnames, CR/LF in values, regexes
//! engines refuse), is deterministic (the same input gives the same IR and statuses), and every
//! object Portico owns gets conditions. For a few worlds, the HAProxy IR (what translation
//! accepted) is rendered and checked by the real `haproxy -c` (skipped when HAProxy is absent).

use portico::plan::{self, ObjectDetail};
use portico_model::load::{self, Loaded};
use proptest::prelude::*;
use serde_json::{Value, json};

const NAMESPACES: &[&str] = &["default", "infra", "apps"];
const HOSTS: &[&str] = &[
    "a.example.com",
    "*.example.com",
    "example.com",
    "*.a.example.com",
    "other.io",
    "*.io",
    // Hostile: refused by validation, never a panic.
    "xéexample.com",
    "é.example.com",
    "a..b",
    "-a.example.com",
    "A.example.com",
    "a\nb.example.com",
    "*",
    "1.2.3.4",
];
const VALUES: &[&str] = &["v", "a\r\nx-evil: 1", "é", "", "a\tb"];
const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TLS", "TCP", "UDP", "INVALID"];
const CONTROLLERS: &[&str] = &["portico.dev/aws", "portico.dev/gcp", "portico.dev/haproxy", "example.com/other"];
const KINDS: &[&str] = &["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

fn listener() -> impl Strategy<Value = Value> {
    (0..4usize, pick(PROTOCOLS), prop::sample::select(vec![80, 443, 8080, 0, 70000]), opt(pick(HOSTS)), any::<bool>(), opt(pick(KINDS)), 0..3usize).prop_map(
        |(i, protocol, port, hostname, passthrough, kind, from)| {
            let mut l = json!({"name": format!("l{i}"), "protocol": protocol, "port": port});
            if let Some(h) = hostname {
                l["hostname"] = json!(h);
            }
            if protocol == "HTTPS" || protocol == "TLS" {
                let mode = if passthrough { "Passthrough" } else { "Terminate" };
                l["tls"] = json!({"mode": mode, "certificateRefs": [{"name": format!("cert{}", i % 2), "namespace": NAMESPACES[i % 3]}]});
            }
            let from = ["Same", "All", "Selector"][from];
            l["allowedRoutes"] = json!({"namespaces": {"from": from, "selector": {"matchLabels": {"team": "a"}}}});
            if let Some(kind) = kind {
                l["allowedRoutes"]["kinds"] = json!([{"kind": kind}]);
            }
            l
        },
    )
}

fn http_rule() -> impl Strategy<Value = Value> {
    let path = (0..3usize, pick(&["/", "/a", "/a/b", "/a/", "[", "/x.*", "/a%2fb", "/é", "a{2}{3}", "/a\nb", "(?=x)", "\\pL"])).prop_map(|(t, v)| {
        let kind = ["Exact", "PathPrefix", "RegularExpression"][t];
        json!({"type": kind, "value": v})
    });
    let matched = (opt(path), opt(pick(&["GET", "POST"])), 0..7usize, 0..2usize, pick(VALUES)).prop_map(|(path, method, headers, queries, value)| {
        let mut m = json!({});
        if let Some(p) = path {
            m["path"] = p;
        }
        if let Some(method) = method {
            m["method"] = json!(method);
        }
        m["headers"] = Value::Array(
            (0..headers)
                .map(|h| {
                    let kind = if h % 2 == 0 { "Exact" } else { "RegularExpression" };
                    json!({"name": format!("h{}", h % 3), "value": if h == 0 { value } else { "v" }, "type": kind})
                })
                .collect(),
        );
        m["queryParams"] = Value::Array((0..queries).map(|q| json!({"name": format!("q{q}"), "value": "v"})).collect());
        m
    });
    let filter = prop_oneof![
        pick(VALUES).prop_map(|v| json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x", "value": v}]}})),
        Just(json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["x"]}})),
        (prop::sample::select(vec![301, 302, 303, 307, 308, 399])).prop_map(|c| json!({"type": "RequestRedirect", "requestRedirect": {"statusCode": c, "scheme": "https", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/z"}}})),
        Just(json!({"type": "URLRewrite", "urlRewrite": {"hostname": "h.example.com", "path": {"type": "ReplaceFullPath", "replaceFullPath": "/full"}}})),
        (0..120i64).prop_map(|p| json!({"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "svc0", "port": 80}, "percent": p}})),
        Just(json!({"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "Thing", "name": "t"}})),
    ];
    (
        prop::collection::vec(matched, 0..3),
        prop::collection::vec(filter, 0..3),
        prop::collection::vec(backend(), 0..4),
        opt(pick(&["10s", "1ms", "bogus", "0s"])),
    )
        .prop_map(|(matches, filters, backends, timeout)| {
            let mut r = json!({"matches": matches, "filters": filters, "backendRefs": backends});
            if let Some(t) = timeout {
                r["timeouts"] = json!({"request": t, "backendRequest": "5s"});
            }
            r
        })
}

fn backend() -> impl Strategy<Value = Value> {
    let weight = prop_oneof![0..3i32, Just(-1), Just(1_000_001)];
    (0..3usize, opt(pick(NAMESPACES)), prop::sample::select(vec![80, 81, 0]), weight, any::<bool>()).prop_map(|(s, ns, port, weight, odd_kind)| {
        let mut b = json!({"name": format!("svc{s}"), "port": port, "weight": weight});
        if let Some(ns) = ns {
            b["namespace"] = json!(ns);
        }
        if odd_kind {
            b["group"] = json!("example.com");
            b["kind"] = json!("Bucket");
        }
        b
    })
}

fn route() -> impl Strategy<Value = Value> {
    let parent = (0..3usize, opt(pick(NAMESPACES)), opt(0..4usize), opt(prop::sample::select(vec![80, 443, 9999]))).prop_map(|(g, ns, section, port)| {
        let mut p = json!({"name": format!("gw{g}")});
        if let Some(ns) = ns {
            p["namespace"] = json!(ns);
        }
        if let Some(s) = section {
            p["sectionName"] = json!(format!("l{s}"));
        }
        if let Some(port) = port {
            p["port"] = json!(port);
        }
        p
    });
    (
        pick(KINDS),
        0..50usize,
        pick(NAMESPACES),
        prop::collection::vec(parent, 0..3),
        prop::collection::vec(pick(HOSTS), 0..3),
        prop::collection::vec(http_rule(), 0..3),
    )
        .prop_map(|(kind, n, ns, parents, hosts, rules)| {
            let version = if kind == "TCPRoute" || kind == "UDPRoute" { "v1alpha2" } else { "v1" };
            let mut spec = json!({"parentRefs": parents});
            match kind {
                "HTTPRoute" => {
                    spec["hostnames"] = json!(hosts);
                    spec["rules"] = json!(rules);
                }
                "GRPCRoute" => {
                    spec["hostnames"] = json!(hosts);
                    let rules: Vec<Value> = rules
                        .iter()
                        .map(|r| json!({"matches": [{"method": {"service": "pkg.Svc", "method": "Get"}}], "backendRefs": r["backendRefs"]}))
                        .collect();
                    spec["rules"] = json!(rules);
                }
                _ => {
                    if kind == "TLSRoute" {
                        spec["hostnames"] = json!(if hosts.is_empty() { vec!["a.example.com"] } else { hosts });
                    }
                    let rules: Vec<Value> = rules.iter().map(|r| json!({"backendRefs": r["backendRefs"]})).collect();
                    spec["rules"] = json!(if rules.is_empty() { vec![json!({"backendRefs": []})] } else { rules });
                }
            }
            json!({"apiVersion": format!("gateway.networking.k8s.io/{version}"), "kind": kind,
                   "metadata": {"name": format!("r{n}"), "namespace": ns, "creationTimestamp": format!("2024-01-01T00:00:{:02}Z", n % 60)},
                   "spec": spec})
        })
}

fn world() -> impl Strategy<Value = Vec<Value>> {
    let classes = prop::collection::vec((pick(CONTROLLERS), any::<bool>()), 1..3).prop_map(|cs| {
        cs.into_iter()
            .enumerate()
            .map(|(i, (controller, params))| {
                let mut c = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": format!("c{i}")}, "spec": {"controllerName": controller}});
                if params {
                    c["spec"]["parametersRef"] = json!({"group": "portico.dev", "kind": "HAProxyParameters", "name": "p", "namespace": "infra"});
                }
                c
            })
            .collect::<Vec<_>>()
    });
    let gateways = prop::collection::vec((0..2usize, pick(NAMESPACES), prop::collection::vec(listener(), 0..4), opt(pick(&["10.0.0.1", "bogus", "::1"]))), 0..3).prop_map(|gs| {
        gs.into_iter()
            .enumerate()
            .map(|(i, (class, ns, listeners, address))| {
                let mut g = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": format!("gw{i}"), "namespace": ns, "generation": i + 1},
                                   "spec": {"gatewayClassName": format!("c{class}"), "listeners": listeners}});
                if let Some(a) = address {
                    g["spec"]["addresses"] = json!([{"type": "IPAddress", "value": a}]);
                }
                g
            })
            .collect::<Vec<_>>()
    });
    (classes, gateways, prop::collection::vec(route(), 0..8), any::<bool>()).prop_map(|(mut objects, gateways, routes, grant)| {
        objects.extend(gateways);
        objects.extend(routes);
        for ns in NAMESPACES {
            let team = if *ns == "apps" { "a" } else { "b" };
            objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": team}}}));
            for s in 0..2 {
                objects.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("svc{s}"), "namespace": ns}, "spec": {"ports": [{"port": 80}]}}));
            }
            objects.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cert0", "namespace": ns}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": "garbage", "tls.key": "garbage"}}));
        }
        if grant {
            objects.push(json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "apps"},
                                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}, {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}],
                                         "to": [{"group": "", "kind": "Service"}, {"group": "", "kind": "Secret", "name": "cert0"}]}}));
        }
        objects.push(json!({"apiVersion": "portico.dev/v1alpha1", "kind": "HAProxyParameters", "metadata": {"name": "p", "namespace": "infra"}}));
        objects
    })
}

/// A world whose classes are all HAProxy's, with every Gateway on an existing class.
fn haproxy_world() -> impl Strategy<Value = Vec<Value>> {
    world().prop_map(|mut objects| {
        for object in &mut objects {
            if object["kind"] == "GatewayClass" {
                object["spec"]["controllerName"] = json!("portico.dev/haproxy");
            }
            if object["kind"] == "Gateway" {
                object["spec"]["gatewayClassName"] = json!("c0");
            }
        }
        objects
    })
}

fn text_of(objects: &[Value]) -> String {
    objects.iter().map(|o| format!("{o}\n---\n")).collect()
}

fn conditions_of(value: &Value) -> Vec<&str> {
    value["conditions"].as_array().into_iter().flatten().filter_map(|c| c["type"].as_str()).collect()
}

/// Every Gateway and listener we write has its conditions, and every route naming one of our
/// Gateways has a parent entry with Accepted and ResolvedRefs.
fn check_owned_objects_have_conditions(objects: &[Value], document: &Value) -> Result<(), TestCaseError> {
    let out = document["objects"].as_array().unwrap();
    let mut ours = std::collections::BTreeSet::new();
    for object in out.iter().filter(|o| o["kind"] == "Gateway") {
        let status = &object["status"];
        let types = conditions_of(status);
        prop_assert!(types.contains(&"Accepted") && types.contains(&"Programmed"), "gateway conditions {:?}", types);
        // The document shows status only: the listeners are counted in the generated input.
        let input = objects.iter().find(|o| {
            o["kind"] == "Gateway" && o["metadata"]["name"] == object["metadata"]["name"] && o["metadata"]["namespace"] == object["metadata"]["namespace"]
        });
        let listeners = input.and_then(|g| g["spec"]["listeners"].as_array()).map_or(0, Vec::len);
        let statuses = status["listeners"].as_array().map_or(0, Vec::len);
        prop_assert_eq!(listeners, statuses, "one status per listener");
        for listener in status["listeners"].as_array().into_iter().flatten() {
            prop_assert_eq!(conditions_of(listener).len(), 4, "listener conditions {}", listener);
        }
        ours.insert((object["metadata"]["namespace"].as_str().unwrap_or("").to_string(), object["metadata"]["name"].as_str().unwrap_or("").to_string()));
    }
    for route in objects.iter().filter(|o| o["kind"].as_str().is_some_and(|k| k.ends_with("Route"))) {
        let ns = route["metadata"]["namespace"].as_str().unwrap_or("default");
        let names_ours = route["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| ours.contains(&(p["namespace"].as_str().unwrap_or(ns).to_string(), p["name"].as_str().unwrap_or("").to_string())));
        if !names_ours {
            continue;
        }
        let written = out.iter().find(|o| o["kind"] == route["kind"] && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == route["metadata"]["name"]);
        prop_assert!(written.is_some(), "no status for {}", route["metadata"]);
        let parents = written.and_then(|w| w["status"]["parents"].as_array()).cloned().unwrap_or_default();
        prop_assert!(!parents.is_empty(), "no parent entries for {}", route["metadata"]);
        for parent in &parents {
            let types = conditions_of(parent);
            prop_assert!(types.contains(&"Accepted") && types.contains(&"ResolvedRefs"), "route conditions {:?}", types);
        }
    }
    Ok(())
}

/// True when every condition of every object says all is well (no rejection anywhere).
fn all_accepted(document: &Value) -> bool {
    let good = |c: &Value| match c["type"].as_str() {
        Some("Conflicted" | "PartiallyInvalid") => c["status"] == "False",
        Some("Programmed") => c["status"] != "False",
        _ => c["status"] == "True",
    };
    document["objects"].as_array().into_iter().flatten().all(|o| {
        let status = &o["status"];
        status["conditions"].as_array().into_iter().flatten().all(good)
            && status["listeners"].as_array().into_iter().flatten().all(|l| l["conditions"].as_array().into_iter().flatten().all(good))
            && status["parents"].as_array().into_iter().flatten().all(|p| p["conditions"].as_array().into_iter().flatten().all(good))
    })
}

fn haproxy_installed() -> bool {
    std::process::Command::new("haproxy").arg("-v").output().is_ok_and(|o| o.status.success())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn translate_never_panics_and_is_deterministic(objects in world()) {
        let text = text_of(&objects);
        let mut loaded = Loaded::default();
        load::load_str(&text, "generated", &mut loaded).expect("generated objects are valid-shaped");
        let registry = portico_cli::registry();
        let first = serde_json::to_value(plan::document(&loaded, &registry, "2000-01-01T00:00:00Z", ObjectDetail::StatusOnly)).unwrap();
        let second = serde_json::to_value(plan::document(&loaded, &registry, "2000-01-01T00:00:00Z", ObjectDetail::StatusOnly)).unwrap();
        prop_assert_eq!(&first, &second);
        // Every status entry we write names one of our controllers.
        for object in first["objects"].as_array().unwrap() {
            for parent in object["status"]["parents"].as_array().into_iter().flatten() {
                let controller = parent["controllerName"].as_str().unwrap_or("");
                prop_assert!(controller.starts_with("portico.dev/"), "unexpected controller {}", controller);
            }
        }
        check_owned_objects_have_conditions(&objects, &first)?;
    }
}

proptest! {
    // Each case runs `haproxy -c` (tens of milliseconds): a handful of cases, enough to catch a
    // renderer that writes what HAProxy refuses for input translation accepted.
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn accepted_worlds_render_configs_haproxy_accepts(objects in haproxy_world()) {
        if !haproxy_installed() {
            eprintln!("haproxy not installed: skipped");
            return Ok(());
        }
        let mut loaded = Loaded::default();
        load::load_str(&text_of(&objects), "generated", &mut loaded).expect("generated objects are valid-shaped");
        let registry = portico_cli::registry();
        let document = serde_json::to_value(plan::document(&loaded, &registry, "2000-01-01T00:00:00Z", ObjectDetail::StatusOnly)).unwrap();
        let translation = portico_translate::translate(&loaded.snapshot, &registry.capabilities());
        let irs: Vec<_> = translation.gateways.values().filter(|ir| ir.provider == portico_model::ProviderKind::Haproxy).collect();
        // The IR holds only what translation accepted (rejected routes and listeners are left
        // out), so every HAProxy IR must render to a config `haproxy -c` accepts. Worlds where
        // everything is accepted are rare among random ones; they are counted for the record.
        if irs.is_empty() {
            return Ok(());
        }
        let everything = all_accepted(&document);
        let dir = tempdir();
        let settings = portico_haproxy::RenderSettings {
            cert_dir: dir.join("certs"),
            port_offset: 20000,
            timeout_connect_ms: 1000,
            timeout_client_ms: 1000,
            timeout_server_ms: 1000,
            runtime_socket: dir.join("haproxy.sock"),
        };
        let mut certificates = std::collections::BTreeMap::new();
        for ir in &irs {
            certificates.extend(portico_translate::desired::certificates_for(&loaded.snapshot, ir));
        }
        let address: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let inputs: Vec<_> = irs.iter().map(|ir| portico_haproxy::GatewayInput { ir, address }).collect();
        let rendered = portico_haproxy::render(&inputs, &certificates, &settings);
        prop_assert!(rendered.refused.is_empty(), "renderer refused {:?}", rendered.refused);
        std::fs::create_dir_all(&settings.cert_dir).unwrap();
        for (name, bytes) in &rendered.cert_files {
            std::fs::write(settings.cert_dir.join(name), bytes).unwrap();
        }
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, &rendered.config).unwrap();
        let check = std::process::Command::new("haproxy").arg("-c").arg("-f").arg(&config).output().unwrap();
        prop_assert!(check.status.success(), "haproxy -c refused:\n{}\n{}", String::from_utf8_lossy(&check.stderr), rendered.config);
        eprintln!("haproxy -c accepted a rendered world ({} Gateways, all objects accepted: {everything})", irs.len());
    }
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("portico-prop-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
