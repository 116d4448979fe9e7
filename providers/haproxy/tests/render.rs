//! Tests of the HAProxy config renderer: determinism, golden configs, key lines, and validation
//! of every rendered config with `haproxy -c` (set `PORTICO_SKIP_HAPROXY=1` to skip when HAProxy
//! is not installed; set `PORTICO_UPDATE_GOLDEN=1` to rewrite the golden files).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use portico_haproxy::{GatewayInput, RenderSettings, Rendered, backend_name, render};
use portico_model::ir::{Gateway, ObjectRef};
use serde_json::{Value, json};

/// A route entry with a numbered source.
fn entry(rule: usize, matcher: Value, action: Value, filters: Value) -> Value {
    json!({
        "source": { "kind": "HTTPRoute", "namespace": "default", "name": "web", "rule": rule, "match": 0 },
        "match": matcher, "filters": filters, "action": action
    })
}

/// `Forward` to one backend id.
fn to(id: &str) -> Value {
    json!({ "type": "Forward", "backends": [{ "weight": 1, "target": { "type": "Backend", "id": id } }] })
}

fn prefix(path: &str) -> Value {
    json!({ "path": { "type": "Prefix", "value": path } })
}

fn backend(ns_name: (&str, &str), port: u16, protocol: &str, endpoints: &[&str]) -> Value {
    let endpoints: Vec<Value> = endpoints.iter().map(|a| json!({ "address": a, "port": port })).collect();
    json!({ "service": { "namespace": ns_name.0, "name": ns_name.1 }, "port": port, "protocol": protocol, "endpoints": endpoints })
}

/// The HTTP virtual hosts of the main fixture.
fn http_vhosts() -> Value {
    let modifier = |kind: &str| {
        json!({ "type": kind, "set": [{ "name": "x-set", "value": "a b%c" }],
        "add": [{ "name": "x-add", "value": "1" }], "remove": ["x-remove"] })
    };
    json!([
        { "hostname": "foo.example.com", "listener": "http", "routes": [
            entry(0, json!({ "path": { "type": "Exact", "value": "/exact" } }), to("default/web:8080"), json!([])),
            entry(1, json!({ "path": { "type": "Prefix", "value": "/foo" }, "method": "GET",
                "headers": [{ "name": "x-env", "type": "Exact", "value": "prod" }],
                "queryParams": [{ "name": "q", "type": "RegularExpression", "value": "a\\d+" }] }),
                to("default/web:8080"),
                json!([modifier("RequestHeaderModifier"), modifier("ResponseHeaderModifier")])),
            entry(2, json!({ "path": { "type": "RegularExpression", "value": "/re/[0-9]+" } }),
                json!({ "type": "FixedResponse", "status": 500, "reason": "no usable backend" }), json!([])),
        ]},
        { "hostname": "*.example.com", "listener": "http", "routes": [
            entry(3, prefix("/weighted"), json!({ "type": "Forward", "backends": [
                { "weight": 90, "target": { "type": "Backend", "id": "default/web:8080" } },
                { "weight": 10, "target": { "type": "Backend", "id": "default/canary:8080" },
                  "filters": [{ "type": "RequestHeaderModifier", "set": [{ "name": "x-canary", "value": "yes" }] }] },
                { "weight": 20, "target": { "type": "Invalid", "reason": "Service default/gone not found" } } ] }), json!([])),
            entry(4, prefix("/redirect"), json!({ "type": "Redirect", "scheme": "https", "statusCode": 301 }), json!([])),
            entry(5, prefix("/redir-path"), json!({ "type": "Redirect", "hostname": "other.example.com", "port": 8443,
                "path": { "type": "ReplacePrefixMatch", "value": "/new" }, "statusCode": 302 }), json!([])),
            entry(6, prefix("/rewrite"), to("default/web:8080"), json!([{ "type": "URLRewrite", "hostname": "backend.internal",
                "path": { "type": "ReplacePrefixMatch", "value": "/" } }])),
            entry(7, prefix("/full"), to("default/grpc:50051-h2c"), json!([{ "type": "URLRewrite",
                "path": { "type": "ReplaceFullPath", "value": "/replaced" } }])),
            entry(8, prefix("/empty"), to("default/empty:80"), json!([])),
        ]},
        { "hostname": "*", "listener": "http", "routes": [
            json!({ "source": { "kind": "HTTPRoute", "namespace": "default", "name": "web", "rule": 9, "match": 0 },
                "match": prefix("/"), "action": to("default/web:8080"), "timeouts": { "requestMs": 10000, "backendRequestMs": 3000 } }),
        ]},
    ])
}

/// The main fixture: HTTP, HTTPS, TLS passthrough, TCP and UDP ports on one Gateway.
fn main_gateway() -> Gateway {
    let sni = |host: &str, backends: Value| {
        json!({ "hostname": host, "listener": "tls", "terminate": false,
        "source": { "kind": "TLSRoute", "namespace": "default", "name": "tls", "rule": 0, "match": 0 }, "backends": backends })
    };
    let weighted = |id: &str, weight: u32| json!({ "weight": weight, "target": { "type": "Backend", "id": id } });
    let value = json!({
        "gateway": { "namespace": "default", "name": "gw" }, "gatewayClass": "haproxy", "provider": "haproxy",
        "ports": [
            { "port": 80, "protocol": "HTTP", "listeners": ["http"], "virtualHosts": http_vhosts() },
            { "port": 443, "protocol": "HTTPS", "listeners": ["https", "https-foo"],
              "certificates": [
                { "hostname": "*", "listener": "https", "secrets": [{ "namespace": "default", "name": "cert" }] },
                { "hostname": "foo.example.com", "listener": "https-foo", "secrets": [{ "namespace": "default", "name": "foo-cert" }] } ],
              "virtualHosts": [{ "hostname": "*", "listener": "https", "routes": [entry(0, prefix("/"), to("default/web:8080"), json!([]))] }] },
            { "port": 8443, "protocol": "TLS", "listeners": ["tls"], "tlsRoutes": [
                sni("tls.example.com", json!([weighted("default/tls:443", 1)])),
                sni("*.tls.example.com", json!([weighted("default/tls:443", 3), weighted("default/tls2:443", 1),
                    { "weight": 1, "target": { "type": "Invalid", "reason": "not found" } }])) ] },
            { "port": 9000, "protocol": "TCP", "listeners": ["tcp"], "l4Routes": [{ "listener": "tcp",
                "source": { "kind": "TCPRoute", "namespace": "default", "name": "tcp", "rule": 0, "match": 0 },
                "backends": [weighted("default/tcp:9000", 1)] }] },
            { "port": 9001, "protocol": "UDP", "listeners": ["udp"], "l4Routes": [{ "listener": "udp",
                "source": { "kind": "UDPRoute", "namespace": "default", "name": "udp", "rule": 0, "match": 0 },
                "backends": [weighted("default/dns:53-udp", 1)] }] },
        ],
        "backends": {
            "default/web:8080": backend(("default", "web"), 8080, "HTTP", &["10.0.0.1", "10.0.0.2"]),
            "default/canary:8080": backend(("default", "canary"), 8080, "HTTP", &["fd00::5"]),
            "default/grpc:50051-h2c": backend(("default", "grpc"), 50051, "H2C", &["10.0.0.3"]),
            "default/empty:80": backend(("default", "empty"), 80, "HTTP", &[]),
            "default/tls:443": backend(("default", "tls"), 443, "TCP", &["10.0.1.1"]),
            "default/tls2:443": backend(("default", "tls2"), 443, "TCP", &["10.0.1.2", "10.0.1.3"]),
            "default/tcp:9000": backend(("default", "tcp"), 9000, "TCP", &["10.0.2.1"]),
            "default/dns:53-udp": backend(("default", "dns"), 53, "UDP", &["10.0.3.1"]),
        }
    });
    gateway_ir(value)
}

/// A second Gateway: a terminating TLS port and an HTTP port with no routes.
fn terminate_gateway() -> Gateway {
    let value = json!({
        "gateway": { "namespace": "other", "name": "gw2" }, "gatewayClass": "haproxy", "provider": "haproxy",
        "ports": [
            { "port": 80, "protocol": "HTTP", "listeners": ["http"], "virtualHosts": [{ "hostname": "*", "listener": "http", "routes": [
                json!({ "source": { "kind": "HTTPRoute", "namespace": "other", "name": "split", "rule": 0, "match": 0 },
                    "match": prefix("/"), "filters": [], "action": { "type": "Forward", "backends": [
                        { "weight": 70, "target": { "type": "Backend", "id": "other/a:80" } },
                        { "weight": 0, "target": { "type": "Backend", "id": "other/b:80" } },
                        { "weight": 30, "target": { "type": "Backend", "id": "other/b:80" } } ] } }) ] }] },
            { "port": 6443, "protocol": "TLS", "listeners": ["tls-term"],
              "certificates": [{ "hostname": "*.secure.example.com", "listener": "tls-term", "secrets": [{ "namespace": "other", "name": "secure" }] }],
              "tlsRoutes": [{ "hostname": "*.secure.example.com", "listener": "tls-term", "terminate": true,
                "source": { "kind": "TLSRoute", "namespace": "other", "name": "t", "rule": 0, "match": 0 },
                "backends": [{ "weight": 1, "target": { "type": "Backend", "id": "other/app:8443" } }] }] },
        ],
        "backends": { "other/app:8443": backend(("other", "app"), 8443, "TCP", &["10.1.0.1"]),
            "other/a:80": backend(("other", "a"), 80, "HTTP", &["10.1.0.2"]), "other/b:80": backend(("other", "b"), 80, "HTTP", &["10.1.0.3"]) }
    });
    gateway_ir(value)
}

/// Adds the empty collections the IR's serde shape requires (it skips them when serialising but
/// does not default them when deserialising), so fixtures can leave them out.
fn fill(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(fill),
        Value::Object(map) => {
            let present = |k: &str| map.contains_key(k);
            let kind = map.get("type").and_then(Value::as_str).unwrap_or("");
            let mut missing: Vec<(&str, Value)> = Vec::new();
            if present("action") || present("weight") {
                missing.push(("filters", json!([])));
            }
            if kind.ends_with("HeaderModifier") {
                missing.extend(["set", "add", "remove"].map(|k| (k, json!([]))));
            }
            if present("listeners") && present("protocol") {
                missing.extend(["certificates", "virtualHosts", "tlsRoutes", "l4Routes"].map(|k| (k, json!([]))));
            }
            if present("gatewayClass") {
                missing.extend([("requestedAddresses", json!([])), ("infrastructureLabels", json!({})), ("backends", json!({}))]);
            }
            let is_entry = present("action");
            if let Some(Value::Object(matcher)) = map.get_mut("match").filter(|_| is_entry) {
                matcher.entry("headers").or_insert_with(|| json!([]));
                matcher.entry("queryParams").or_insert_with(|| json!([]));
            }
            for (key, empty) in missing {
                map.entry(key).or_insert(empty);
            }
            map.values_mut().for_each(fill);
        }
        _ => {}
    }
}

/// Deserialises a fixture after [`fill`].
fn gateway_ir(mut value: Value) -> Gateway {
    fill(&mut value);
    serde_json::from_value(value).expect("fixture is valid IR")
}

fn settings(cert_dir: &Path, port_offset: u16) -> RenderSettings {
    RenderSettings {
        cert_dir: cert_dir.to_path_buf(),
        port_offset,
        timeout_connect_ms: 5000,
        timeout_client_ms: 30000,
        timeout_server_ms: 30000,
        runtime_socket: PathBuf::from("/run/portico/haproxy.sock"),
    }
}

fn address(text: &str) -> IpAddr {
    text.parse().expect("valid address")
}

/// Renders both fixtures with the given PEM for every Secret.
fn render_all(cert_dir: &Path, port_offset: u16, pem: &[u8]) -> Rendered {
    let (main, term) = (main_gateway(), terminate_gateway());
    let inputs = [GatewayInput { ir: &main, address: address("10.0.0.10") }, GatewayInput { ir: &term, address: address("10.0.0.11") }];
    let certs: BTreeMap<ObjectRef, Vec<u8>> =
        [("default", "cert"), ("default", "foo-cert"), ("other", "secure")].into_iter().map(|(ns, name)| (ObjectRef::new(ns, name), pem.to_vec())).collect();
    render(&inputs, &certs, &settings(cert_dir, port_offset))
}

fn golden_render() -> Rendered {
    render_all(Path::new("/etc/portico/certs"), 0, b"PEM\n")
}

/// The number HAProxy's configuration gives rule `i` of the main Gateway's port 80 (or 443).
fn n(i: usize) -> usize {
    portico_haproxy::rule_numbers(&main_gateway().ports[0])[i]
}

/// [`n`], with `{N}` placeholders (`{0}`..`{9}`) replaced by rule numbers.
fn numbered(text: &str) -> String {
    let mut out = text.to_string();
    for i in 0..10 {
        out = out.replace(&format!("{{{i}}}"), &n(i).to_string());
    }
    out
}

fn assert_has(config: &str, line: &str) {
    let line = &numbered(line);
    assert!(config.contains(line.as_str()), "missing line:\n  {line}\nin config:\n{config}");
}

#[test]
fn deterministic() {
    assert_eq!(golden_render(), golden_render());
}

#[test]
fn golden_config() {
    let rendered = golden_render();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/main.cfg");
    if std::env::var_os("PORTICO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered.config).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).expect("golden file (PORTICO_UPDATE_GOLDEN=1 to create)");
    assert_eq!(rendered.config, expected, "config differs from {}", path.display());
}

#[test]
fn cert_files_and_crt_lists() {
    let rendered = golden_render();
    let names: Vec<&str> = rendered.cert_files.keys().map(String::as_str).filter(|n| !n.ends_with(".map")).collect();
    assert_eq!(names, ["default_cert.pem", "default_foo-cert.pem", "fe_default_gw_443.crtlist", "fe_other_gw2_6443.crtlist", "other_secure.pem"]);
    let list = String::from_utf8_lossy(&rendered.cert_files["fe_default_gw_443.crtlist"]).into_owned();
    assert_eq!(list, "/etc/portico/certs/default_cert.pem\n/etc/portico/certs/default_foo-cert.pem foo.example.com\n");
    let config = rendered.config;
    assert_has(&config, "bind 10.0.0.10:443 ssl crt-list /etc/portico/certs/fe_default_gw_443.crtlist alpn h2,http/1.1");
}

#[test]
fn global_and_defaults() {
    let config = golden_render().config;
    assert_has(&config, "    master-worker\n");
    assert_has(&config, "stats socket /run/portico/haproxy.sock mode 600 level admin expose-fd listeners");
    assert_has(&config, "timeout connect 5000ms");
}

/// The map file `name` of the golden render, as text.
fn map(name: &str) -> String {
    String::from_utf8_lossy(&golden_render().cert_files[name]).into_owned()
}

#[test]
fn virtual_hosts_by_maps_most_specific_first() {
    let config = golden_render().config;
    assert_has(&config, "http-request set-var(txn.host) req.hdr(host),field(1,:),lower");
    assert_has(&config, "http-request set-var(txn.vh) var(txn.host),map_str_int(/etc/portico/certs/fe_default_gw_80.hosts.map)\n");
    assert_has(
        &config,
        "http-request set-var(txn.vh) var(txn.host),map_end_int(/etc/portico/certs/fe_default_gw_80.wildcards.map) if !{ var(txn.vh) -m found } !{ var(txn.host) -m beg . }",
    );
    assert_has(&config, "http-request set-var(txn.vh) int(2) if !{ var(txn.vh) -m found }\n");
    assert_eq!(map("fe_default_gw_80.hosts.map"), "foo.example.com 0\n");
    assert_eq!(map("fe_default_gw_80.wildcards.map"), ".example.com 1\n");
}

#[test]
fn matches() {
    let config = golden_render().config;
    // Virtual host 0 has a rule matching more than the path: its rules are selected by lines.
    assert_has(&config, "acl r{1}_path path /foo\n");
    assert_has(&config, "acl r{1}_path path_beg /foo/\n");
    assert_has(&config, "http-request set-var(txn.rule) int({0}) if !{ var(txn.rule) -m found } { var(txn.vh) -m int 0 } { path -m str /exact }");
    assert_has(
        &config,
        "int({1}) if !{ var(txn.rule) -m found } { var(txn.vh) -m int 0 } r{1}_path { method GET } { req.fhdr(x-env) -m str prod } { urlp(q) -m reg '^(?:a\\d+)$' }",
    );
    assert_has(&config, "int({2}) if !{ var(txn.rule) -m found } { var(txn.vh) -m int 0 } { path_reg '^(?:/re/[0-9]+)$' }");
    // Virtual hosts 1 and 2 match on paths alone: by maps, and no line per rule.
    assert!(!config.contains("{ var(txn.vh) -m int 1 }") && !config.contains("{ var(txn.vh) -m int 2 }"), "{config}");
    let paths = map("fe_default_gw_80.paths.map");
    assert!(paths.contains(&numbered("1|/weighted {3}\n")) && paths.contains(&numbered("1|/empty {8}\n")), "{paths}");
    let prefixes = map("fe_default_gw_80.prefixes.map");
    assert!(prefixes.contains(&numbered("1|/weighted/ {3}\n")) && prefixes.ends_with(&numbered("2|/ {9}\n")), "longest first, `/` last: {prefixes}");
    assert_has(&config, "http-request return status 404 if !{ var(txn.rule) -m found }");
}

#[test]
fn plain_rules_take_their_backend_from_a_map() {
    let config = golden_render().config;
    let backends = map("fe_default_gw_80.backends.map");
    // Rule 1 (header modifiers) and rule 9 (a timeout) carry those by maps too.
    let expected =
        "{0} be_default_gw_default_web_8080\n{1} be_default_gw_default_web_8080\n{8} be_default_gw_default_empty_80\n{9} be_default_gw_default_web_8080\n";
    let sorted = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&backends), sorted(&numbered(expected)));
    assert_has(&config, "use_backend %[var(txn.be)] if { var(txn.be) -m found }");
    assert!(!config.contains("use_backend be_default_gw_default_empty_80 if"), "{config}");
}

/// A rule that only forwards, to weighted backends, has no line of its own: one draw per request
/// is looked up in the port's `picks.map`, whose decimal prefixes give 70% of the draws to one
/// backend and 30% to the other (weight 0 gets none).
#[test]
fn weighted_rules_draw_their_backend_from_a_map() {
    let rendered = golden_render();
    let number = portico_haproxy::rule_numbers(&terminate_gateway().ports[0])[0];
    let gw2 = ObjectRef::new("other", "gw2");
    let (a, b) = (backend_name(&gw2, "other/a:80"), backend_name(&gw2, "other/b:80"));
    let picks = String::from_utf8_lossy(&rendered.cert_files["fe_other_gw2_80.picks.map"]).into_owned();
    let expected: String = (0..10).map(|d| format!("{number}|1{d} {}\n", if d < 7 { &a } else { &b })).collect();
    assert_eq!(picks, expected);
    let config = &rendered.config;
    let frontend = &config[config.find("frontend fe_other_gw2_80").unwrap()..];
    let frontend = &frontend[..frontend.find("\n\n").unwrap_or(frontend.len())];
    assert_has(frontend, "http-request set-var(txn.draw) rand(1000000),add(1000000) if { var(txn.rule) -m found } !{ var(txn.be) -m found }");
    assert_has(frontend, "http-request set-var(txn.be) var(txn.drawkey),map_beg(/etc/portico/certs/fe_other_gw2_80.picks.map) if { var(txn.draw) -m found }");
    assert!(!frontend.contains("txn.pick") && !frontend.contains(&format!("-m int {number}")), "{frontend}");
}

#[test]
fn weights_with_invalid_share() {
    let config = golden_render().config;
    let web = backend_name(&ObjectRef::new("default", "gw"), "default/web:8080");
    let canary = backend_name(&ObjectRef::new("default", "gw"), "default/canary:8080");
    assert_has(&config, "http-request set-var(txn.pick) rand(120) if { var(txn.rule) -m int {3} }");
    assert_has(&config, &format!("use_backend {web} if {{ var(txn.rule) -m int {{3}} }} {{ var(txn.pick) -m int lt 90 }}"));
    assert_has(
        &config,
        &format!("use_backend {canary} if {{ var(txn.rule) -m int {{3}} }} {{ var(txn.pick) -m int ge 90 }} {{ var(txn.pick) -m int lt 100 }}"),
    );
    assert_has(&config, "http-request set-header x-canary yes if { var(txn.rule) -m int {3} } { var(txn.pick) -m int ge 90 } { var(txn.pick) -m int lt 100 }");
    assert_has(&config, "http-request return status 500 if { var(txn.rule) -m int {3} } { var(txn.pick) -m int ge 100 } { var(txn.pick) -m int lt 120 }");
}

#[test]
fn redirects_and_rewrites() {
    let config = golden_render().config;
    assert_has(&config, "http-request redirect location 'https://%[req.hdr(host),field(1,:)]%[pathq]' code 301 if { var(txn.rule) -m int {4} }");
    assert_has(&config, "http-request replace-path '^\\/redir\\-path((?:/.*)?)$' '/new\\1' if { var(txn.rule) -m int {5} }");
    assert_has(&config, "http-request redirect location 'http://other.example.com:8443%[pathq]' code 302 if { var(txn.rule) -m int {5} }");
    assert_has(&config, "http-request set-header host backend.internal if { var(txn.rule) -m int {6} }");
    assert_has(&config, "http-request replace-path '^\\/rewrite/?(.*)$' '/\\1' if { var(txn.rule) -m int {6} }");
    assert_has(&config, "http-request set-path /replaced if { var(txn.rule) -m int {7} }");
    let timeouts = "/etc/portico/certs/fe_default_gw_80.timeouts.map";
    assert_has(
        &config,
        &format!("http-request set-var(txn.tmo) var(txn.rule),map_str_int({timeouts}) if {{ var(txn.rule),map_str_int({timeouts}) -m found }}"),
    );
    assert_eq!(map("fe_default_gw_80.timeouts.map"), numbered("{9} 3000\n"));
    assert_has(&config, "http-request set-timeout server var(txn.tmo) if { var(txn.tmo) -m found }");
}

#[test]
fn header_modifiers_and_fixed_response() {
    let config = golden_render().config;
    // One line per header name and operation, its value (the literal, `%` and blank included)
    // looked up by rule number: no line per rule.
    let map = |n: usize| format!("/etc/portico/certs/fe_default_gw_80.header{n}.map");
    let found = |n: usize| format!("{{ var(txn.rule),map_str({}) -m found }}", map(n));
    assert_has(&config, &format!("http-request set-header x-set %[var(txn.rule),map_str({})] if {}", map(0), found(0)));
    assert_has(&config, &format!("http-request add-header x-add %[var(txn.rule),map_str({})] if {}", map(1), found(1)));
    assert_has(&config, &format!("http-request del-header x-remove if {}", found(2)));
    assert_has(&config, &format!("http-response set-header x-set %[var(txn.rule),map_str({})] if {}", map(3), found(3)));
    assert_has(&config, &format!("http-response del-header x-remove if {}", found(5)));
    assert_eq!(self::map("fe_default_gw_80.header0.map"), numbered("{1} a b%c\n"));
    assert_eq!(self::map("fe_default_gw_80.header2.map"), numbered("{1} 1\n"));
    assert!(!config.contains(&numbered("-m int {1} }")), "rule 1 still has lines of its own");
    // A backend's own filter keeps its guarded line.
    assert_has(&config, "http-request set-header x-canary yes if { var(txn.rule) -m int {3} } { var(txn.pick) -m int ge 90 } { var(txn.pick) -m int lt 100 }");
    assert_has(&config, "http-request return status 500 if { var(txn.rule) -m int {2} }");
}

#[test]
fn backends() {
    let config = golden_render().config;
    let gw = ObjectRef::new("default", "gw");
    assert_eq!(backend_name(&gw, "default/grpc:50051-h2c"), "be_default_gw_default_grpc_50051-h2c");
    assert_has(&config, "server s0 10.0.0.3:50051 proto h2\n");
    assert_has(&config, "server s0 [fd00::5]:8080\n");
    let empty = format!("backend {}\n", backend_name(&gw, "default/empty:80"));
    let section = config.split(&empty).nth(1).and_then(|s| s.split("\n\n").next()).expect("empty backend");
    // No endpoints: only disabled spare slots (HAProxy answers 503), filled later at runtime.
    let servers: Vec<&str> = section.lines().filter(|l| l.trim_start().starts_with("server ")).collect();
    assert!(!servers.is_empty() && servers.iter().all(|l| l.ends_with(" disabled")), "empty backend has enabled servers: {section}");
    assert!(!config.contains("dns"), "UDP must not appear");
    assert_ne!(backend_name(&gw, "a/b:1"), backend_name(&gw, "a_b/:1"));
}

#[test]
fn tls_and_tcp() {
    let config = golden_render().config;
    assert_has(&config, "frontend fe_default_gw_8443\n    # listeners: tls\n    mode tcp\n    bind 10.0.0.10:8443\n    tcp-request inspect-delay 5s");
    assert_has(
        &config,
        "tcp-request content set-var(sess.rule) int(0) if { req_ssl_hello_type 1 } !{ var(sess.rule) -m found } { req_ssl_sni -m str -i tls.example.com }",
    );
    assert_has(&config, "int(1) if { req_ssl_hello_type 1 } !{ var(sess.rule) -m found } { req_ssl_sni -m end -i .tls.example.com } !{ req_ssl_sni -m beg . }");
    assert_has(&config, "tcp-request content reject if { var(sess.rule) -m int 1 } { rand(5) -m int lt 1 }");
    assert_has(&config, "tcp-request content accept if { req_ssl_hello_type 1 }");
    assert_has(&config, "use_backend l4_default_gw_8443_1 if { var(sess.rule) -m int 1 }");
    assert_has(&config, "server b0s0 10.0.1.1:443 weight 256\n    # backend 1: default/tls2:443\n    server b1s0 10.0.1.2:443 weight 43");
    assert_has(&config, "default_backend l4_default_gw_9000_0");
    assert_has(&config, "bind 10.0.0.11:6443 ssl crt-list /etc/portico/certs/fe_other_gw2_6443.crtlist");
    assert_has(&config, "{ ssl_fc_sni -m end -i .secure.example.com }");
}

#[test]
fn port_offset() {
    let config = render_all(Path::new("/c"), 8000, b"").config;
    assert_has(&config, "bind 10.0.0.10:8080\n");
    assert_has(&config, "bind 10.0.0.10:17000\n");
}

/// Runs `haproxy -c` on a rendered config with real certificates in a temporary directory.
fn haproxy_check(name: &str, port_offset: u16) {
    let haproxy = if Path::new("/usr/sbin/haproxy").exists() { "/usr/sbin/haproxy" } else { "haproxy" };
    if Command::new(haproxy).arg("-v").output().is_err() {
        assert!(
            std::env::var_os("PORTICO_SKIP_HAPROXY").is_some(),
            "haproxy is not installed (not on PATH): install HAProxy 2.6+ or set PORTICO_SKIP_HAPROXY=1"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("portico-haproxy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rendered = render_all(&dir, port_offset, &self_signed(&dir));
    for (file, bytes) in &rendered.cert_files {
        std::fs::write(dir.join(file), bytes).expect("write cert file");
    }
    let config = dir.join("haproxy.cfg");
    std::fs::write(&config, &rendered.config).expect("write config");
    let output = Command::new(haproxy).arg("-c").arg("-f").arg(&config).output().expect("run haproxy -c");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "haproxy -c failed:\n{log}\nconfig:\n{}", rendered.config);
    assert!(!log.contains("[WARNING]"), "haproxy -c warned:\n{log}\nconfig:\n{}", rendered.config);
}

/// A fresh self-signed EC certificate followed by its key.
fn self_signed(dir: &Path) -> Vec<u8> {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=x", "-days", "3650"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make a test certificate");
    assert!(status.status.success(), "openssl failed: {}", String::from_utf8_lossy(&status.stderr));
    let mut pem = std::fs::read(&cert).expect("cert");
    pem.extend(std::fs::read(&key).expect("key"));
    pem
}

#[test]
fn haproxy_accepts_config() {
    haproxy_check("plain", 0);
}

#[test]
fn haproxy_accepts_config_with_port_offset() {
    haproxy_check("offset", 8000);
}

/// A Gateway whose IR carries what the config cannot hold unchanged (CR/LF in a header value, a
/// header name that is not a token, a hostname starting with `-`) is left out whole with the reason
/// (never written with characters dropped); the Gateway rendered beside it is untouched.
#[test]
fn unwritable_values_refuse_their_gateway_only() {
    let hostile = |ns: &str, vhost: Value| {
        gateway_ir(json!({
            "gateway": { "namespace": ns, "name": "evil" }, "gatewayClass": "haproxy", "provider": "haproxy",
            "ports": [{ "port": 80, "protocol": "HTTP", "listeners": ["http"], "virtualHosts": [vhost] }],
            "backends": { "default/web:8080": backend(("default", "web"), 8080, "HTTP", &["10.0.0.1"]) }
        }))
    };
    let set = |name: &str, value: &str| json!([{ "type": "RequestHeaderModifier", "set": [{ "name": name, "value": value }], "add": [], "remove": [] }]);
    let cases = [
        hostile(
            "crlf",
            json!({ "hostname": "*", "listener": "http", "routes": [entry(0, prefix("/"), to("default/web:8080"), set("x-user", "alice\r\nx-admin: 1"))] }),
        ),
        hostile("name", json!({ "hostname": "*", "listener": "http", "routes": [entry(0, prefix("/"), to("default/web:8080"), set("x evil", "v"))] })),
        hostile("dash", json!({ "hostname": "-evil.example.com", "listener": "http", "routes": [entry(0, prefix("/"), to("default/web:8080"), json!([]))] })),
    ];
    let victim = main_gateway();
    for evil in &cases {
        let inputs = [GatewayInput { ir: evil, address: address("10.0.0.9") }, GatewayInput { ir: &victim, address: address("10.0.0.10") }];
        let certs: BTreeMap<ObjectRef, Vec<u8>> =
            [("default", "cert"), ("default", "foo-cert")].into_iter().map(|(ns, name)| (ObjectRef::new(ns, name), b"PEM\n".to_vec())).collect();
        let rendered = render(&inputs, &certs, &settings(Path::new("/etc/portico/certs"), 0));
        assert_eq!(rendered.refused.keys().collect::<Vec<_>>(), vec![&evil.gateway], "{}", rendered.config);
        assert!(!rendered.config.contains(&format!("fe_{}_evil", evil.gateway.namespace)), "{}", rendered.config);
        assert!(!rendered.config.contains(['\0', '\r']), "{}", rendered.config);
        assert_has(&rendered.config, &format!("# Gateway {} not rendered: ", evil.gateway));
        assert_has(&rendered.config, "frontend fe_default_gw_80");
    }
}

/// Client certificate validation is a bind option of the port: the bundles in order in one
/// `ca-file`, `verify required`, or `verify optional` ignoring every error for the fallback mode.
#[test]
fn client_certificate_validation() {
    use portico_model::ir::{CaBundle, ClientValidation, ClientValidationMode};
    let bundle = |name: &str, pem: &str| CaBundle { config_map: ObjectRef::new("default", name), pem: pem.into() };
    for (mode, options) in [
        (ClientValidationMode::AllowValidOnly, "verify required"),
        (ClientValidationMode::AllowInsecureFallback, "verify optional ca-ignore-err all crt-ignore-err all"),
    ] {
        let mut main = main_gateway();
        let port = main.ports.iter_mut().find(|p| p.port == 443).expect("the HTTPS port");
        port.client_validation = Some(ClientValidation { mode, ca_certificates: vec![bundle("a", "CA-A\n"), bundle("b", "CA-B")] });
        let certs: BTreeMap<ObjectRef, Vec<u8>> =
            [("default", "cert"), ("default", "foo-cert")].into_iter().map(|(ns, n)| (ObjectRef::new(ns, n), b"PEM\n".to_vec())).collect();
        let rendered = render(&[GatewayInput { ir: &main, address: address("10.0.0.10") }], &certs, &settings(Path::new("/etc/portico/certs"), 0));
        assert_has(
            &rendered.config,
            &format!(
                "bind 10.0.0.10:443 ssl crt-list /etc/portico/certs/fe_default_gw_443.crtlist ca-file /etc/portico/certs/fe_default_gw_443.ca.pem {options} alpn h2,http/1.1"
            ),
        );
        assert_eq!(String::from_utf8_lossy(&rendered.cert_files["fe_default_gw_443.ca.pem"]), "CA-A\nCA-B\n");
        // Only the validated port: the plain HTTP port has no TLS at all.
        assert_eq!(rendered.config.matches("ca-file").count(), 1, "{}", rendered.config);
    }
}

/// A BackendTLSPolicy's TLS on every server line of its HTTP backend (spare slots included), not on
/// a passthrough TLSRoute's: `ssl
/// verify required` against the policy's bundles (one `ca-file` per backend) or the system's
/// store, the hostname as SNI and as the name to verify, the Gateway's client certificate
/// (`crt`); and `haproxy -c` takes it all.
#[test]
fn backend_tls_origination() {
    use portico_model::ir::{BackendTls, CaBundle};
    let dir = std::env::temp_dir().join(format!("portico-haproxy-backend-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pem = self_signed(&dir);
    let ca = String::from_utf8_lossy(&pem).split("-----BEGIN PRIVATE KEY-----").next().unwrap_or_default().to_string();
    let mut main = main_gateway();
    let tls = |ca_certificates: Vec<CaBundle>, hostname: &str| BackendTls {
        policy: ObjectRef::new("default", "policy"),
        hostname: hostname.into(),
        ca_certificates,
        subject_alt_names: Vec::new(),
    };
    main.backends.get_mut("default/web:8080").expect("web").tls =
        Some(tls(vec![CaBundle { config_map: ObjectRef::new("default", "ca"), pem: ca.clone() }], "abc.example.com"));
    main.backends.get_mut("default/canary:8080").expect("canary").tls = Some(tls(Vec::new(), "other.example.com"));
    // A passthrough TLSRoute relays the client's own TLS: never originated.
    main.backends.get_mut("default/tls:443").expect("tls").tls = Some(tls(Vec::new(), "passthrough.example.com"));
    main.backend_client_certificate = Some(ObjectRef::new("default", "cert"));
    let rendered = render(&[GatewayInput { ir: &main, address: address("10.0.0.10") }], &self_signed_certs(&pem), &settings(&dir, 0));
    let options = format!(
        " ssl verify required ca-file {0}/be_default_gw_default_web_8080.ca.pem sni str(abc.example.com) verifyhost abc.example.com crt {0}/default_cert.pem",
        dir.display()
    );
    assert_has(&rendered.config, &format!("server s0 10.0.0.1:8080{options}"));
    assert_has(&rendered.config, &format!("server s3 127.0.0.1:1 disabled{options}"));
    assert_has(&rendered.config, " ssl verify required ca-file @system-ca sni str(other.example.com) verifyhost other.example.com crt ");
    assert_eq!(String::from_utf8_lossy(&rendered.cert_files["be_default_gw_default_web_8080.ca.pem"]), ca.trim_end().to_string() + "\n");
    assert!(!rendered.config.contains("passthrough.example.com"), "{}", rendered.config);
    let grpc = rendered.config.lines().filter(|l| l.contains("10.0.0.3:50051")).collect::<Vec<_>>();
    assert!(!grpc.is_empty() && grpc.iter().all(|l| !l.contains("ssl")), "a backend without a policy is not touched: {grpc:?}");
    for (file, bytes) in &rendered.cert_files {
        std::fs::write(dir.join(file), bytes).expect("write cert file");
    }
    std::fs::write(dir.join("haproxy.cfg"), &rendered.config).expect("write config");
    let haproxy = if Path::new("/usr/sbin/haproxy").exists() { "/usr/sbin/haproxy" } else { "haproxy" };
    if let Ok(output) = Command::new(haproxy).arg("-c").arg("-f").arg(dir.join("haproxy.cfg")).output() {
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "haproxy -c failed:\n{log}\nconfig:\n{}", rendered.config);
    } else {
        assert!(std::env::var_os("PORTICO_SKIP_HAPROXY").is_some(), "haproxy is not installed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The main fixture's certificate Secrets, all with `pem`.
fn self_signed_certs(pem: &[u8]) -> BTreeMap<ObjectRef, Vec<u8>> {
    [("default", "cert"), ("default", "foo-cert")].into_iter().map(|(ns, n)| (ObjectRef::new(ns, n), pem.to_vec())).collect()
}

/// The cached renderer gives exactly what a fresh render gives, re-rendering only the Gateways
/// whose IR or address changed (and all of them when the settings or certificates change).
#[test]
fn cached_renders_equal_fresh_ones_and_render_only_what_changed() {
    use std::sync::Arc;
    let pem = b"PEM\n".to_vec();
    let certs: BTreeMap<ObjectRef, Vec<u8>> =
        [("default", "cert"), ("default", "foo-cert"), ("other", "secure")].into_iter().map(|(ns, name)| (ObjectRef::new(ns, name), pem.clone())).collect();
    let fresh = |gateways: &[(&Arc<Gateway>, IpAddr)], certs: &BTreeMap<ObjectRef, Vec<u8>>, settings: &RenderSettings| {
        let inputs: Vec<GatewayInput<'_>> = gateways.iter().map(|(ir, address)| GatewayInput { ir, address: *address }).collect();
        render(&inputs, certs, settings)
    };
    let mut cache = portico_haproxy::RenderCache::default();
    let settings = settings(Path::new("/etc/portico/certs"), 0);
    let (mut main, term) = (Arc::new(main_gateway()), Arc::new(terminate_gateway()));
    let (a, b) = (address("10.0.0.10"), address("10.0.0.11"));
    let step =
        |cache: &mut portico_haproxy::RenderCache, gateways: &[(&Arc<Gateway>, IpAddr)], certs: &BTreeMap<ObjectRef, Vec<u8>>, settings: &RenderSettings| {
            let cached = portico_haproxy::render_cached(cache, gateways, certs, settings);
            assert_eq!(cached, fresh(gateways, certs, settings));
            cache.rendered
        };
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &certs, &settings), 2);
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &certs, &settings), 0, "nothing changed");
    // An equal IR in a new allocation (a new translation) is reused too.
    let again = Arc::new((*term).clone());
    assert_eq!(step(&mut cache, &[(&main, a), (&again, b)], &certs, &settings), 0);
    Arc::make_mut(&mut main).ports[0].virtual_hosts[0].hostname = "bar.example.com".into();
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &certs, &settings), 1, "only the edited Gateway");
    assert_eq!(step(&mut cache, &[(&main, address("10.0.0.12")), (&term, b)], &certs, &settings), 1, "only the moved Gateway");
    assert_eq!(step(&mut cache, &[(&term, b)], &certs, &settings), 0, "a removed Gateway leaves the others as they were");
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &certs, &settings), 1);
    let mut rotated = certs.clone();
    rotated.insert(ObjectRef::new("other", "secure"), b"NEW\n".to_vec());
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &rotated, &settings), 2, "certificates changed");
    let offset = self::settings(Path::new("/etc/portico/certs"), 8000);
    assert_eq!(step(&mut cache, &[(&main, a), (&term, b)], &rotated, &offset), 2, "settings changed");
}
