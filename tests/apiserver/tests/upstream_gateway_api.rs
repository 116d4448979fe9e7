//! The upstream Gateway API v1.6.1 CRDs (standard and experimental install bundles, as
//! released, in `testdata/`) served as a cluster serves them: they load and become
//! Established, valid objects of every kind are accepted, and what upstream's OpenAPI schema
//! and CEL rules refuse gets 422 Invalid with the field path and the rule's message.

mod common;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const GROUP: &str = "gateway.networking.k8s.io";

/// The CRDs of one install bundle (`standard` or `experimental`), as JSON, unchanged.
fn upstream_crds(channel: &str) -> Vec<Value> {
    let channel = portico_apiserver::upstream::Channel::parse(channel).expect("channel");
    portico_apiserver::upstream::gateway_api_crds(channel).expect("testdata")
}

/// Starts a server with one bundle installed; checks every CRD is Established.
async fn cluster(channel: &str) -> (portico_apiserver::ApiServer, Client, usize) {
    let (server, client) = common::start().await;
    let crd_resource = ApiResource::erase::<CustomResourceDefinition>(&());
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource);
    let upstream = upstream_crds(channel);
    for crd in &upstream {
        let object: DynamicObject = serde_json::from_value(crd.clone()).expect("crd");
        let name = object.metadata.name.clone().unwrap_or_default();
        let created = crds.create(&PostParams::default(), &object).await.unwrap_or_else(|e| panic!("{channel} CRD {name}: {e}"));
        let conditions = created.data["status"]["conditions"].as_array().cloned().unwrap_or_default();
        assert!(conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True"), "{name} not Established");
    }
    (server, client, upstream.len())
}

/// The resource of a Gateway API kind at `version`.
fn resource(kind: &str, version: &str) -> ApiResource {
    let plural = match kind {
        "GatewayClass" => "gatewayclasses".to_owned(),
        "BackendTLSPolicy" => "backendtlspolicies".to_owned(),
        other => format!("{}s", other.to_lowercase()),
    };
    ApiResource { group: GROUP.into(), version: version.into(), api_version: format!("{GROUP}/{version}"), kind: kind.into(), plural }
}

/// Creates `object` (with apiVersion/kind filled) in `default`; returns the API error message.
async fn create(client: &Client, kind: &str, version: &str, mut object: Value) -> Result<DynamicObject, (u16, String)> {
    let resource = resource(kind, version);
    object["apiVersion"] = json!(resource.api_version);
    object["kind"] = json!(kind);
    let api: Api<DynamicObject> =
        if kind == "GatewayClass" { Api::all_with(client.clone(), &resource) } else { Api::namespaced_with(client.clone(), "default", &resource) };
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    api.create(&PostParams::default(), &object).await.map_err(|error| match error {
        kube::Error::Api(status) => (status.code, status.message.clone()),
        other => panic!("not an API error: {other:?}"),
    })
}

fn gateway() -> Value {
    json!({"metadata": {"name": "gw"}, "spec": {"gatewayClassName": "portico",
        "addresses": [{"type": "IPAddress", "value": "10.0.0.1"}, {"type": "Hostname", "value": "gw.example.com"}],
        "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com", "allowedRoutes": {"namespaces": {"from": "All"}}},
            {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "secure.example.com",
             "tls": {"mode": "Terminate", "certificateRefs": [{"name": "cert"}]}},
            {"name": "tls", "port": 8443, "protocol": "TLS", "tls": {"mode": "Passthrough"}},
            {"name": "tcp", "port": 9000, "protocol": "TCP"}]}})
}

fn http_route() -> Value {
    json!({"metadata": {"name": "web"}, "spec": {
        "parentRefs": [{"name": "gw", "sectionName": "http"}, {"name": "gw", "sectionName": "https"}],
        "hostnames": ["www.example.com"],
        "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "headers": [{"name": "x-env", "value": "prod"}],
                          "queryParams": [{"name": "q", "value": "1"}], "method": "GET"}],
             "filters": [
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}], "remove": ["x-b"]}},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "x-c", "value": "2"}]}},
                {"type": "URLRewrite", "urlRewrite": {"hostname": "internal.example.com", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}},
                {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "mirror", "port": 8080}, "percent": 10}}],
             "backendRefs": [{"name": "api", "port": 8080, "weight": 90}, {"name": "canary", "port": 8080, "weight": 10}],
             "timeouts": {"request": "10s", "backendRequest": "5s"}},
            {"matches": [{"path": {"type": "Exact", "value": "/old"}}],
             "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301,
                          "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}}]}]}})
}

/// One route rule with the given filters (no backendRefs) and a match of `path_type`.
fn route_with_filters(path_type: &str, filters: Value) -> Value {
    json!({"metadata": {"name": "bad"}, "spec": {"parentRefs": [{"name": "gw"}],
        "rules": [{"matches": [{"path": {"type": path_type, "value": "/p"}}], "filters": filters}]}})
}

fn redirect() -> Value {
    json!({"type": "RequestRedirect", "requestRedirect": {"statusCode": 302}})
}

fn rewrite() -> Value {
    json!({"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/q"}}})
}

#[tokio::test]
async fn standard_crds_load_and_accept_valid_objects_of_every_kind() {
    let (_server, client, count) = cluster("standard").await;
    assert_eq!(count, 10);
    let class = json!({"metadata": {"name": "portico"}, "spec": {"controllerName": "portico.dev/controller"}});
    let valid = [
        ("GatewayClass", "v1", class),
        ("Gateway", "v1", gateway()),
        ("HTTPRoute", "v1", http_route()),
        (
            "GRPCRoute",
            "v1",
            json!({"metadata": {"name": "grpc"}, "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["grpc.example.com"],
            "rules": [{"matches": [{"method": {"type": "Exact", "service": "echo.v1.Echo", "method": "Say"}}],
                       "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "y"}]}}],
                       "backendRefs": [{"name": "echo", "port": 9000}]}]}}),
        ),
        (
            "TLSRoute",
            "v1",
            json!({"metadata": {"name": "tls"}, "spec": {"parentRefs": [{"name": "gw", "sectionName": "tls"}],
            "hostnames": ["*.tls.example.com"], "rules": [{"backendRefs": [{"name": "tls", "port": 443}]}]}}),
        ),
        (
            "TCPRoute",
            "v1",
            json!({"metadata": {"name": "tcp"}, "spec": {"parentRefs": [{"name": "gw", "sectionName": "tcp"}],
            "rules": [{"backendRefs": [{"name": "db", "port": 5432}]}]}}),
        ),
        (
            "ReferenceGrant",
            "v1beta1",
            json!({"metadata": {"name": "grant"}, "spec": {
            "from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "apps"}], "to": [{"group": "", "kind": "Service"}]}}),
        ),
        (
            "ListenerSet",
            "v1",
            json!({"metadata": {"name": "extra"}, "spec": {"parentRef": {"name": "gw"},
            "listeners": [{"name": "extra", "port": 8080, "protocol": "HTTP", "hostname": "extra.example.com"}]}}),
        ),
        (
            "BackendTLSPolicy",
            "v1",
            json!({"metadata": {"name": "btls"}, "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "api"}],
            "validation": {"hostname": "api.internal", "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}],
                           "subjectAltNames": [{"type": "Hostname", "hostname": "api.internal"}, {"type": "URI", "uri": "spiffe://cluster/api"}]}}}),
        ),
    ];
    for (kind, version, object) in valid {
        if let Err((code, message)) = create(&client, kind, version, object).await {
            panic!("{kind} refused ({code}): {message}");
        }
    }
    // Status with IPAddress and Hostname addresses (a oneOf with a `not` upstream).
    let gateways: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource("Gateway", "v1"));
    let condition = json!({"type": "Programmed", "status": "True", "reason": "Programmed", "message": "", "observedGeneration": 1,
        "lastTransitionTime": "2024-01-01T00:00:00Z"});
    let status = json!({"status": {
        "addresses": [{"type": "IPAddress", "value": "192.0.2.10"}, {"type": "IPAddress", "value": "2001:db8::1"}, {"type": "Hostname", "value": "lb.example.com"}],
        "conditions": [condition],
        "listeners": [{"name": "http", "attachedRoutes": 1, "conditions": [condition], "supportedKinds": [{"group": GROUP, "kind": "HTTPRoute"}]}]}});
    let patched = gateways.patch_status("gw", &PatchParams::default(), &Patch::Merge(&status)).await.expect("status accepted");
    assert_eq!(patched.data["status"]["addresses"][1]["value"], "2001:db8::1");
    let bad_status = json!({"status": {"addresses": [{"type": "IPAddress", "value": "lb.example.com"}]}});
    let error = gateways.patch_status("gw", &PatchParams::default(), &Patch::Merge(&bad_status)).await.expect_err("not an IP");
    let kube::Error::Api(status) = error else { panic!("{error:?}") };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("<nil>: Invalid value: \"\": \"status.addresses[0]\" must validate one and only one schema (oneOf). Found none valid"),
        "{}",
        status.message
    );
    // GatewayClass controllerName is immutable (a transition rule, `self == oldSelf`).
    let classes: Api<DynamicObject> = Api::all_with(client.clone(), &resource("GatewayClass", "v1"));
    let change = json!({"spec": {"controllerName": "other.dev/controller"}});
    let error = classes.patch("portico", &PatchParams::default(), &Patch::Merge(&change)).await.expect_err("immutable");
    let kube::Error::Api(status) = error else { panic!("{error:?}") };
    assert_eq!(
        status.message,
        "GatewayClass.gateway.networking.k8s.io \"portico\" is invalid: spec.controllerName: Invalid value: \"other.dev/controller\": Value is immutable"
    );
    let details = status.details.as_ref().expect("details");
    assert_eq!((details.kind.as_str(), details.group.as_str()), ("GatewayClass", GROUP));
    assert_eq!((details.causes[0].field.as_str(), details.causes[0].reason.as_str()), ("spec.controllerName", "FieldValueInvalid"));
}

/// A case the upstream schema or rules refuse: the object and what the 422 must say.
struct Refused {
    name: &'static str,
    kind: &'static str,
    object: Value,
    expected: &'static str,
}

fn refused_cases() -> Vec<Refused> {
    let mut long_section = http_route();
    long_section["spec"]["parentRefs"][0]["sectionName"] = json!("s".repeat(254));
    let mut heavy = http_route();
    heavy["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(1_000_001);
    let mut bad_hostname = http_route();
    bad_hostname["spec"]["hostnames"] = json!(["Not_A_Host"]);
    let mut slow = http_route();
    slow["spec"]["rules"][0]["timeouts"] = json!({"request": "5s", "backendRequest": "10s"});
    let mut no_port = http_route();
    no_port["spec"]["rules"][0]["backendRefs"][0].as_object_mut().map(|r| r.remove("port"));
    let mut relative = http_route();
    relative["spec"]["rules"][0]["matches"][0]["path"]["value"] = json!("api");
    let mut tcp_hostname = gateway();
    tcp_hostname["spec"]["listeners"][3]["hostname"] = json!("tcp.example.com");
    let mut duplicate = gateway();
    duplicate["spec"]["listeners"][1]["name"] = json!("http");
    let mut http_tls = gateway();
    http_tls["spec"]["listeners"][0]["tls"] = json!({"mode": "Terminate", "certificateRefs": [{"name": "c"}]});
    let mut bad_address = gateway();
    bad_address["spec"]["addresses"][0]["value"] = json!("999.1.1.1");
    let mut mismatched = http_route();
    mismatched["spec"]["rules"][0]["filters"][0]["type"] = json!("ResponseHeaderModifier");
    vec![
        Refused {
            name: "two RequestRedirect filters",
            kind: "HTTPRoute",
            object: route_with_filters("PathPrefix", json!([redirect(), redirect()])),
            expected: "spec.rules[0].filters: Invalid value: RequestRedirect filter cannot be repeated",
        },
        Refused {
            name: "redirect plus URLRewrite",
            kind: "HTTPRoute",
            object: route_with_filters("PathPrefix", json!([redirect(), rewrite()])),
            expected: "spec.rules[0].filters: Invalid value: May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
        },
        Refused {
            name: "ReplacePrefixMatch on an Exact match",
            kind: "HTTPRoute",
            object: route_with_filters("Exact", json!([rewrite()])),
            expected: "spec.rules[0]: Invalid value: When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        },
        Refused {
            name: "parentRef sectionName too long",
            kind: "HTTPRoute",
            object: long_section,
            expected: "spec.parentRefs[0].sectionName: Too long: may not be more than 253 bytes",
        },
        Refused {
            name: "weight above 1e6",
            kind: "HTTPRoute",
            object: heavy,
            expected: "spec.rules[0].backendRefs[0].weight: Invalid value: 1000001: spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1e+06",
        },
        Refused {
            name: "invalid hostname",
            kind: "HTTPRoute",
            object: bad_hostname,
            expected: "spec.hostnames[0]: Invalid value: \"Not_A_Host\": spec.hostnames[0] in body should match",
        },
        Refused {
            name: "backendRequest longer than request",
            kind: "HTTPRoute",
            object: slow,
            expected: "spec.rules[0].timeouts: Invalid value: backendRequest timeout cannot be longer than request timeout",
        },
        Refused {
            name: "Service backendRef without port",
            kind: "HTTPRoute",
            object: no_port,
            expected: "spec.rules[0].backendRefs[0]: Invalid value: Must have port for Service reference",
        },
        Refused {
            name: "relative path match",
            kind: "HTTPRoute",
            object: relative,
            expected: "spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        },
        Refused {
            name: "filter type without its field",
            kind: "HTTPRoute",
            object: mismatched,
            expected: "spec.rules[0].filters[0]: Invalid value: filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier",
        },
        Refused {
            name: "hostname on a TCP listener",
            kind: "Gateway",
            object: tcp_hostname,
            expected: "spec.listeners: Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']",
        },
        Refused {
            name: "duplicate listener names",
            kind: "Gateway",
            object: duplicate,
            expected: "spec.listeners: Invalid value: Listener name must be unique within the Gateway",
        },
        Refused {
            name: "tls on an HTTP listener",
            kind: "Gateway",
            object: http_tls,
            expected: "spec.listeners: Invalid value: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
        },
        Refused {
            name: "IPAddress that is no IP",
            kind: "Gateway",
            object: bad_address,
            expected: "spec.addresses[0].value: Invalid value: \"999.1.1.1\": spec.addresses[0].value in body must be of type ipv4: \"999.1.1.1\", <nil>: Invalid value: null: some validation rules were not checked",
        },
        Refused {
            name: "TLSRoute hostname that is an IP",
            kind: "TLSRoute",
            object: json!({"metadata": {"name": "bad"}, "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["10.0.0.1"], "rules": [{"backendRefs": [{"name": "b", "port": 1}]}]}}),
            expected: "spec.hostnames: Invalid value: Hostnames cannot contain an IP",
        },
        Refused {
            name: "BackendTLSPolicy with no CA",
            kind: "BackendTLSPolicy",
            object: json!({"metadata": {"name": "bad"}, "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "api"}], "validation": {"hostname": "api"}}}),
            expected: "spec.validation: Invalid value: must specify either CACertificateRefs or WellKnownCACertificates",
        },
    ]
}

#[tokio::test]
async fn standard_crds_refuse_what_upstream_schema_and_rules_refuse() {
    let (_server, client, _) = cluster("standard").await;
    let mut failures = Vec::new();
    for (index, mut case) in refused_cases().into_iter().enumerate() {
        case.object["metadata"]["name"] = json!(format!("case-{index}"));
        match create(&client, case.kind, "v1", case.object).await {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err((422, message)) if message.contains(case.expected) => {}
            Err((code, message)) => failures.push(format!("{}: {code} {message}\n    expected: {}", case.name, case.expected)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn experimental_crds_install_at_start_and_accept_valid_objects() {
    let (server, client) = common::start().await;
    let installed = server.install_upstream_gateway_api(portico_apiserver::upstream::Channel::Experimental).expect("installed");
    assert_eq!(installed, 13);
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::erase::<CustomResourceDefinition>(&()));
    let listed = crds.list(&Default::default()).await.expect("list");
    let established =
        |crd: &DynamicObject| crd.data["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Established" && c["status"] == "True");
    assert_eq!(listed.items.iter().filter(|crd| established(crd)).count(), 13);
    let mut cors = http_route();
    cors["spec"]["rules"][0]["filters"] = json!([{"type": "CORS", "cors": {"allowOrigins": ["https://a.example.com"], "allowMethods": ["GET"]}}]);
    for (kind, object) in [("Gateway", gateway()), ("HTTPRoute", cors)] {
        if let Err((code, message)) = create(&client, kind, "v1", object).await {
            panic!("{kind} refused ({code}): {message}");
        }
    }
    let mut repeated = http_route();
    repeated["metadata"]["name"] = json!("repeated");
    let cors_filter = json!({"type": "CORS", "cors": {"allowOrigins": ["*"]}});
    repeated["spec"]["rules"][0]["filters"] = json!([cors_filter.clone(), cors_filter]);
    let (code, message) = create(&client, "HTTPRoute", "v1", repeated).await.expect_err("CORS twice");
    assert_eq!(code, 422);
    assert!(message.contains("spec.rules[0].filters: Invalid value: CORS filter cannot be repeated"), "{message}");
}

#[test]
fn every_upstream_rule_compiles_here_and_none_is_skipped() {
    for (channel, expected_rules) in [("standard", 295), ("experimental", 350)] {
        let mut total = 0;
        for crd in upstream_crds(channel) {
            for (index, version) in crd["spec"]["versions"].as_array().into_iter().flatten().enumerate() {
                let schema = &version["schema"]["openAPIV3Schema"];
                total += portico_apiserver::schema::rules(schema).len();
                let failures = portico_apiserver::schema::check_crd_schema(schema, &format!("spec.versions[{index}]"));
                assert!(failures.is_empty(), "{channel} {}: {failures:?}", crd["metadata"]["name"]);
            }
        }
        assert_eq!(total, expected_rules, "{channel}: rule count changed; update the README");
    }
}

/// Creates/s of a full HTTPRoute (4 filters, 2 backends, timeouts) under the upstream CRDs;
/// printed, not asserted (`--nocapture` to see it).
#[tokio::test]
async fn http_route_create_rate_under_upstream_rules() {
    let (_server, client, _) = cluster("standard").await;
    let count = 100;
    let started = std::time::Instant::now();
    for index in 0..count {
        let mut route = http_route();
        route["metadata"]["name"] = json!(format!("route-{index}"));
        create(&client, "HTTPRoute", "v1", route).await.expect("created");
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    eprintln!("upstream HTTPRoute creates: {rate:.0}/s (sequential, this build's profile)");
}

#[tokio::test]
async fn portico_generated_crds_still_load() {
    let (_server, client) = common::start().await;
    common::install_gateway_api(&client).await;
}

/// As kube-apiserver: a CRD in a protected group (`*.k8s.io`) needs the
/// `api-approved.kubernetes.io` annotation; upstream's carry it, a copy without it is refused.
#[tokio::test]
async fn protected_groups_need_the_approval_annotation() {
    let (_server, client) = common::start().await;
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::erase::<CustomResourceDefinition>(&()));
    let mut crd = upstream_crds("standard").into_iter().find(|c| c["metadata"]["name"] == "gatewayclasses.gateway.networking.k8s.io").unwrap();
    assert!(crd["metadata"]["annotations"]["api-approved.kubernetes.io"].is_string(), "upstream's CRDs are approved");
    crd["metadata"]["annotations"].as_object_mut().unwrap().remove("api-approved.kubernetes.io");
    let object: DynamicObject = serde_json::from_value(crd).unwrap();
    let refused = crds.create(&PostParams::default(), &object).await.expect_err("refused");
    let kube::Error::Api(status) = refused else { panic!("{refused}") };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation"),
        "{}",
        status.message
    );
    for generated in portico_model::crds::gateway_api_crds() {
        let object: DynamicObject = serde_json::from_value(serde_json::to_value(generated).unwrap()).unwrap();
        crds.create(&PostParams::default(), &object).await.expect("Portico's generated Gateway API CRDs carry the approval");
    }
}
