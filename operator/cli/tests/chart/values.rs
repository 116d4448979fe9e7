//! Value sets: what each renders, and the values Helm refuses.

use serde_json::{Value, json};

use crate::helm::{Rendered, render};
use crate::pss::restricted_violations;

pub fn with(providers: &[&str], extra: Value) -> Value {
    let mut values = json!({"clusterName": "prod-eu-1", "providers": {}});
    for p in providers {
        values["providers"][p] = json!({"enabled": true});
    }
    if p_enabled(&values, "gcp") {
        values["providers"]["gcp"]["project"] = json!("shop-prod");
    }
    merge(&mut values, extra);
    values
}

fn p_enabled(values: &Value, provider: &str) -> bool {
    values["providers"][provider]["enabled"] == true
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn pod_spec(rendered: &Rendered) -> Value {
    rendered.kinds("Deployment").pop().expect("a Deployment")["spec"]["template"]["spec"].clone()
}

/// What every value set must give.
fn common(rendered: &Rendered, providers: &[&str]) {
    let args = rendered.args();
    assert_eq!(args[0], "run");
    assert!(args.contains(&format!("--provider={}", providers.join(","))), "{args:?}");
    assert!(args.contains(&"--cluster-name=prod-eu-1".to_string()), "{args:?}");
    assert!(args.iter().any(|a| a.starts_with("--metrics-address=0.0.0.0:")), "probes must reach the port from outside the Pod: {args:?}");
    let spec = pod_spec(rendered);
    assert_eq!(restricted_violations(&spec), Vec::<String>::new(), "restricted Pod Security");
    let container = &spec["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http-metrics");
    assert_eq!(container["ports"][0]["containerPort"], 8080, "not Prometheus's own 9090");
    assert!(container["resources"]["requests"]["memory"].is_string(), "resources are set");
    let role = rendered.find("ClusterRole", "portico").expect("the operator's ClusterRole");
    let parameters: Vec<&str> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["apiGroups"] == json!(["portico.dev"]))
        .flat_map(|r| r["resources"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    let expected: Vec<&str> = ["haproxy", "aws", "gcp"]
        .iter()
        .filter(|p| providers.contains(p))
        .map(|p| match *p {
            "haproxy" => "haproxyparameters",
            "aws" => "awsloadbalancerparameters",
            _ => "gcploadbalancerparameters",
        })
        .collect();
    assert_eq!(parameters, expected, "only the enabled providers' parameters kinds are readable");
    let secrets_verbs: Vec<&Value> =
        role["rules"].as_array().unwrap().iter().filter(|r| r["resources"] == json!(["secrets"])).flat_map(|r| r["verbs"].as_array().unwrap()).collect();
    assert_eq!(secrets_verbs, [&json!("list"), &json!("watch")], "Secrets are read-only and never fetched one by one");
    assert!(rendered.notes().contains("prod-eu-1") && rendered.notes().contains("kubectl"), "NOTES.txt says what to do next");
}

#[test]
fn each_provider_alone_and_all_together() {
    for providers in [&["haproxy"][..], &["aws"], &["gcp"], &["haproxy", "aws", "gcp"]] {
        let rendered = render(&with(providers, json!({}))).ok();
        common(&rendered, providers);
        let sa = rendered.kinds("ServiceAccount").pop().expect("a ServiceAccount");
        assert!(sa["metadata"]["annotations"].is_null(), "no identity annotations unless asked: {sa}");
        assert_eq!(rendered.kinds("PodDisruptionBudget").len(), 1);
        assert_eq!(rendered.kinds("Role").len(), 1, "the Lease Role");
        assert!(rendered.kinds("GatewayClass").is_empty(), "GatewayClasses only when asked");
        assert_eq!(rendered.kinds("ClusterRole").len(), 5, "the operator's and four persona roles");
    }
}

#[test]
fn cloud_identities_and_endpoints() {
    let aws = json!({"providers": {"aws": {"region": "eu-west-1", "endpoint": "http://127.0.0.1:5000", "roleArn": "arn:aws:iam::123456789012:role/portico"}}});
    let rendered = render(&with(&["aws"], aws)).ok();
    let args = rendered.args();
    assert!(args.contains(&"--aws-region=eu-west-1".into()) && args.contains(&"--aws-endpoint=http://127.0.0.1:5000".into()), "{args:?}");
    let sa = rendered.kinds("ServiceAccount").pop().unwrap();
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/portico");

    let gcp = json!({"providers": {"gcp": {"region": "europe-west1", "serviceAccount": "portico@shop-prod.iam.gserviceaccount.com"}}});
    let rendered = render(&with(&["gcp"], gcp)).ok();
    let args = rendered.args();
    assert!(args.contains(&"--gcp-project=shop-prod".into()) && args.contains(&"--gcp-region=europe-west1".into()), "{args:?}");
    let sa = rendered.kinds("ServiceAccount").pop().unwrap();
    assert_eq!(sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"], "portico@shop-prod.iam.gserviceaccount.com");
}

#[test]
fn optional_parts_follow_their_values() {
    let values = json!({
        "replicaCount": 1, "leaderElection": {"enabled": false}, "personaRoles": {"enabled": false},
        "metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "prom"}}},
        "image": {"digest": format!("sha256:{}", "a".repeat(64)), "pullSecrets": [{"name": "regcred"}]},
        "priorityClassName": "system-cluster-critical",
        "providers": {"haproxy": {"gatewayClass": {"create": true}}},
        "extraArgs": ["--drift-interval=5m"], "extraEnv": [{"name": "RUST_LOG", "value": "debug"}]
    });
    let rendered = render(&with(&["haproxy"], values)).ok();
    let args = rendered.args();
    assert!(!args.iter().any(|a| a.starts_with("--leader-elect")), "{args:?}");
    assert!(args.contains(&"--drift-interval=5m".into()));
    assert!(rendered.kinds("PodDisruptionBudget").is_empty(), "no PDB for one replica (it would block every drain)");
    assert!(rendered.kinds("Role").is_empty(), "no Lease Role without leader election");
    assert_eq!(rendered.kinds("ClusterRole").len(), 1, "persona roles off");
    let monitor = rendered.kinds("ServiceMonitor").pop().expect("a ServiceMonitor");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prom");
    let class = rendered.kinds("GatewayClass").pop().expect("the HAProxy GatewayClass");
    assert_eq!(class["spec"]["controllerName"], "portico.dev/haproxy");
    let spec = rendered.kinds("Deployment").pop().unwrap()["spec"]["template"]["spec"].clone();
    assert_eq!(spec["containers"][0]["image"], format!("ghcr.io/portico-dev/portico@sha256:{}", "a".repeat(64)));
    assert_eq!(spec["imagePullSecrets"][0]["name"], "regcred");
    assert_eq!(spec["priorityClassName"], "system-cluster-critical");
    assert!(spec["containers"][0]["env"].as_array().unwrap().iter().any(|e| e["name"] == "RUST_LOG"));
}

#[test]
fn refused_values_say_what_is_wrong() {
    let cases = [
        (json!({}), "clusterName"),
        (
            json!({"clusterName": "a", "providers": {"haproxy": {"enabled": false}, "aws": {"enabled": false}, "gcp": {"enabled": false}}}),
            "enable at least one provider",
        ),
        (with(&["haproxy"], json!({"replicas": 3})), "additional properties 'replicas' not allowed"),
        (with(&["aws"], json!({"providers": {"aws": {"regon": "eu-west-1"}}})), "additional properties 'regon' not allowed"),
        (with(&["haproxy"], json!({"logFormat": "xml"})), "logFormat"),
        (with(&["haproxy"], json!({"image": {"digest": "latest"}})), "digest"),
        (with(&["aws"], json!({"providers": {"aws": {"roleArn": "portico"}}})), "roleArn"),
        (json!({"clusterName": "a", "providers": {"gcp": {"enabled": true}}}), "providers.gcp.project is required"),
        (with(&["haproxy"], json!({"clusterName": "Prod_1"})), "clusterName"),
    ];
    for (values, expected) in cases {
        let rendered = render(&values);
        let error = rendered.error.clone().unwrap_or_default();
        assert!(error.contains(expected), "values {values} must be refused naming {expected:?}; Helm said: {error:?}");
    }
}

#[test]
fn the_charts_crds_are_portico_crds() {
    let rendered = render(&with(&["haproxy"], json!({}))).ok();
    let chart = rendered.crds.get("crds/portico.yaml").expect("crds/portico.yaml in the chart");
    assert_eq!(chart, &portico_cli::registry().crds_yaml(), "helm/portico/crds/portico.yaml is out of date: copy crds/portico.yaml");
    for crd in crate::helm::documents(chart) {
        let columns = &crd["spec"]["versions"][0]["additionalPrinterColumns"];
        assert!(columns.as_array().is_some_and(|c| c.iter().any(|c| c["name"] == "Age")), "{} has printer columns", crd["metadata"]["name"]);
    }
    assert!(rendered.objects().iter().all(|o| o["kind"] != "CustomResourceDefinition"), "templates never install CRDs (upgrades must not touch them)");
}
