//! The codec against `k8s-pb`'s prost types (the oracle) and `k8s-openapi`'s JSON (the names).

use prost::Message as _;
use serde_json::{Value, json};

use super::*;

fn meta(name: &str) -> Value {
    json!({
        "name": name, "namespace": "team-a", "uid": "8a1c", "resourceVersion": "42", "generation": 3,
        "creationTimestamp": "2026-01-02T03:04:05Z", "labels": {"app": "web"}, "annotations": {"a": "b"},
        "finalizers": ["x/y"], "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "u1", "controller": true}],
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    })
}

/// The samples: every served built-in kind with the fields kubectl's generators and Portico write.
fn samples() -> Vec<Value> {
    let pod_spec = json!({"containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}, "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5}}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}], "terminationGracePeriodSeconds": 30});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team-a"), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("web"), "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
            "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080}, {"name": "h2", "port": 81, "targetPort": "h2"}],
            "ipFamilies": ["IPv4"], "allocateLoadBalancerNodePorts": true}, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA==", "tls.key": ""}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg"), "data": {"k": "v", "empty": ""}, "binaryData": {"b": "AAE="}, "immutable": false}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("robot"), "automountServiceAccountToken": false, "secrets": [{"name": "t"}]}),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": meta("e1"), "involvedObject": {"kind": "Gateway", "name": "g", "apiVersion": "gateway.networking.k8s.io/v1"},
            "reason": "Programmed", "message": "ok", "type": "Normal", "count": 2, "firstTimestamp": "2026-01-02T03:04:05Z", "eventTime": "2026-01-02T03:04:05.123456Z",
            "source": {"component": "portico"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("p"), "spec": pod_spec.clone(), "status": {"phase": "Running", "podIP": "10.1.0.2", "podIPs": [{"ip": "10.1.0.2"}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("d"), "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}},
            "status": {"replicas": 1, "conditions": [{"type": "Available", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("pdb"), "spec": {"minAvailable": 1, "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("r"), "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"], "resourceNames": ["a"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("cr"), "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("rb"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "team-a"}, {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta("crb"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]}),
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("e2"), "eventTime": "2026-01-02T03:04:05.000001Z", "reason": "R", "note": "n", "type": "Warning",
            "action": "Reconcile", "reportingController": "portico", "reportingInstance": "p-0", "regarding": {"kind": "Service", "name": "web", "namespace": "team-a"}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("web-1"), "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.0.2"], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "p"}}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("leader"), "spec": {"holderIdentity": "p-0", "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-02T03:04:05.000000Z", "renewTime": "2026-01-02T03:04:06.500000Z", "leaseTransitions": 4}}),
    ]
}

/// Decode our bytes with the prost type, encode them again with prost, decode that with ours.
fn through_prost<M: prost::Message + Default>(bytes: &[u8]) -> Vec<u8> {
    M::decode(bytes).expect("k8s-pb decodes what the codec wrote").encode_to_vec()
}

fn prost_round_trip(kind: &str, api_version: &str, raw: &[u8]) -> Vec<u8> {
    use k8s_pb::api;
    match (api_version, kind) {
        ("v1", "Namespace") => through_prost::<api::core::v1::Namespace>(raw),
        ("v1", "Service") => through_prost::<api::core::v1::Service>(raw),
        ("v1", "Secret") => through_prost::<api::core::v1::Secret>(raw),
        ("v1", "ConfigMap") => through_prost::<api::core::v1::ConfigMap>(raw),
        ("v1", "ServiceAccount") => through_prost::<api::core::v1::ServiceAccount>(raw),
        ("v1", "Event") => through_prost::<api::core::v1::Event>(raw),
        ("v1", "Pod") => through_prost::<api::core::v1::Pod>(raw),
        ("apps/v1", "Deployment") => through_prost::<api::apps::v1::Deployment>(raw),
        ("policy/v1", "PodDisruptionBudget") => through_prost::<api::policy::v1::PodDisruptionBudget>(raw),
        (_, "Role") => through_prost::<api::rbac::v1::Role>(raw),
        (_, "ClusterRole") => through_prost::<api::rbac::v1::ClusterRole>(raw),
        (_, "RoleBinding") => through_prost::<api::rbac::v1::RoleBinding>(raw),
        (_, "ClusterRoleBinding") => through_prost::<api::rbac::v1::ClusterRoleBinding>(raw),
        ("events.k8s.io/v1", "Event") => through_prost::<api::events::v1::Event>(raw),
        (_, "EndpointSlice") => through_prost::<api::discovery::v1::EndpointSlice>(raw),
        (_, "Lease") => through_prost::<api::coordination::v1::Lease>(raw),
        other => panic!("no oracle for {other:?}"),
    }
}

#[test]
fn every_built_in_kind_round_trips_through_k8s_pb() {
    for sample in samples() {
        let (api_version, kind) = (sample["apiVersion"].as_str().unwrap(), sample["kind"].as_str().unwrap());
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let message = message_for(group, version, kind).unwrap_or_else(|| panic!("{kind} has a schema"));
        let enveloped = encode_object(&message, &sample).unwrap();
        let unknown = open_envelope(&enveloped).unwrap();
        assert_eq!((unknown.api_version.as_str(), unknown.kind.as_str()), (api_version, kind));
        let again = envelope(api_version, kind, &prost_round_trip(kind, api_version, unknown.raw));
        assert_eq!(decode_object(&again).unwrap(), sample, "{kind} changed through k8s-pb");
    }
}

#[test]
fn json_names_are_the_ones_k8s_openapi_reads() {
    use k8s_pb::api::core::v1 as pb;
    let service = pb::Service {
        spec: Some(pb::ServiceSpec {
            cluster_ip: Some("10.0.0.9".into()),
            external_ips: vec!["192.0.2.9".into()],
            load_balancer_source_ranges: vec!["10.0.0.0/8".into()],
            ports: vec![pb::ServicePort {
                port: Some(443),
                target_port: Some(k8s_pb::apimachinery::pkg::util::intstr::IntOrString { r#type: Some(1), int_val: None, str_val: Some("https".into()) }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = decode_object(&envelope("v1", "Service", &service.encode_to_vec())).unwrap();
    let typed: k8s_openapi::api::core::v1::Service = serde_json::from_value(json).unwrap();
    let spec = typed.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(spec.external_ips, Some(vec!["192.0.2.9".to_string()]));
    assert_eq!(spec.load_balancer_source_ranges, Some(vec!["10.0.0.0/8".to_string()]));
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.target_port, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("https".into())));
}

#[test]
fn go_zero_values_are_left_out_and_lists_carry_their_items() {
    use k8s_pb::api::core::v1 as pb;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    // Go writes unset non-pointer fields: an empty namespace and the zero time.
    let zero = meta::Time { seconds: Some(-62_135_596_800), nanos: Some(0) };
    let ns = pb::Namespace {
        metadata: Some(meta::ObjectMeta { name: Some("a".into()), namespace: Some(String::new()), creation_timestamp: Some(zero), ..Default::default() }),
        ..Default::default()
    };
    let json = decode_object(&envelope("v1", "Namespace", &ns.encode_to_vec())).unwrap();
    assert_eq!(json, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}));
    // Non-pointer zeros go (stdin, observedGeneration); a pointer's zero stays (replicas).
    use k8s_pb::api::apps::v1 as apps;
    let container = pb::Container { name: Some("c".into()), stdin: Some(false), ..Default::default() };
    let template = pb::PodTemplateSpec { spec: Some(pb::PodSpec { containers: vec![container], ..Default::default() }), ..Default::default() };
    let deployment = apps::Deployment {
        spec: Some(apps::DeploymentSpec { replicas: Some(0), paused: Some(false), template: Some(template), ..Default::default() }),
        status: Some(apps::DeploymentStatus { observed_generation: Some(0), replicas: Some(0), ..Default::default() }),
        ..Default::default()
    };
    let json = decode_object(&envelope("apps/v1", "Deployment", &deployment.encode_to_vec())).unwrap();
    assert_eq!(json["spec"], json!({"replicas": 0, "template": {"spec": {"containers": [{"name": "c"}]}}}));
    assert_eq!(json["status"], json!({"replicas": 0}), "status.replicas is a plain int32 too, but shares the name");
    let list = json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "7", "continue": "abc", "remainingItemCount": 2},
        "items": [{"metadata": {"name": "one"}, "data": {"k": "v"}}]});
    let bytes = encode_object("api.core.v1.ConfigMap", &list).unwrap();
    let typed = pb::ConfigMapList::decode(open_envelope(&bytes).unwrap().raw).unwrap();
    assert_eq!(typed.items[0].data.get("k").map(String::as_str), Some("v"));
    assert_eq!(typed.metadata.unwrap().remaining_item_count, Some(2));
    assert_eq!(decode_object(&bytes).unwrap(), list);
}

#[test]
fn watch_frames_are_length_prefixed_watch_events_around_enveloped_objects() {
    let object = encode_object("api.core.v1.ConfigMap", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})).unwrap();
    let frame = watch_frame("ADDED", &object);
    let length = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(length, frame.len() - 4);
    let event = k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent::decode(&frame[4..]).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let raw = event.object.unwrap().raw.unwrap();
    assert_eq!(decode_object(&raw).unwrap()["metadata"]["name"], "c");
}

fn crd_type() -> ResourceType {
    let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced", "versions": [{"name": "v1", "served": true, "storage": true}]}});
    ResourceType::from_crd(&crd).unwrap()
}

#[test]
fn accept_honours_order_and_weights_and_custom_resources_refuse_protobuf() {
    let services = crate::resources::builtin_types().into_iter().find(|t| t.kind == "Service").unwrap();
    let proto = Format::Protobuf("api.core.v1.Service".into());
    let pick = |accept: &str, rt: &ResourceType| negotiate(Some(accept), rt, "v1");
    assert_eq!(pick("application/vnd.kubernetes.protobuf, application/json", &services).unwrap(), proto);
    assert_eq!(pick("application/json, application/vnd.kubernetes.protobuf", &services).unwrap(), Format::Json);
    assert_eq!(pick("application/json;q=0.5, application/vnd.kubernetes.protobuf;q=0.9", &services).unwrap(), proto);
    assert_eq!(pick("application/vnd.kubernetes.protobuf;q=0, */*", &services).unwrap(), Format::Json);
    assert_eq!(pick("application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1, application/json", &services).unwrap(), Format::Json);
    assert_eq!(negotiate(None, &services, "v1").unwrap(), Format::Json);
    let widgets = crd_type();
    assert_eq!(pick("application/vnd.kubernetes.protobuf, application/json", &widgets).unwrap(), Format::Json);
    let refused = pick("application/vnd.kubernetes.protobuf", &widgets).unwrap_err();
    assert_eq!((refused.code, refused.reason), (406, "NotAcceptable"));
    assert_eq!(refused.message, "only the following media types are accepted: application/json, application/yaml");
    let body = decode_body(&widgets, "v1", b"k8s\0").unwrap_err();
    assert_eq!((body.code, body.reason), (415, "UnsupportedMediaType"));
    assert_eq!(body.message, "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
}

#[test]
fn malformed_bodies_are_bad_requests() {
    for body in [&b"{}"[..], b"k8s\0\x0a\xff", b"k8s\0\x12\x05ab"] {
        let error = decode_object(body).unwrap_err();
        assert_eq!(error.code, 400, "{body:?}: {error}");
    }
}
