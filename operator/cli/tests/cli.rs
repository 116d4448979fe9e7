//! The `portico` binary as a user runs it.

use std::process::Command;

fn portico(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).output().expect("portico runs")
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn plan_on_the_examples_prints_statuses_and_ir() {
    let out = portico(&["plan", "-f", "examples/"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_yaml::from_slice(&out.stdout).expect("yaml output");
    let objects = doc["objects"].as_array().expect("objects");
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"GatewayClass") && kinds.contains(&"Gateway") && kinds.contains(&"HTTPRoute"));
    // The class of another controller is never touched.
    assert!(!objects.iter().any(|o| o["metadata"]["name"] == "someone-else"));
    assert!(doc["gateways"]["infra/edge"]["ir"]["ports"].as_array().is_some_and(|p| p.len() == 2));
    for object in objects {
        for condition in object["status"]["conditions"].as_array().into_iter().flatten() {
            assert!(condition["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
    }
}

#[test]
fn json_output_is_json() {
    let out = portico(&["plan", "-f", "examples/00-classes.yaml", "-o", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(doc["objects"].as_array().unwrap().len(), 3);
}

#[test]
fn unreadable_input_exits_2_with_one_line_naming_file_document_object_and_field() {
    let path = write(
        "bad.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: broken}\nspec:\n  gatewayClassName: x\n  listeners:\n  - {name: http, protocol: HTTP}\n",
    );
    let out = portico(&["plan", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad.yaml") && stderr.contains("document 1") && stderr.contains("Gateway broken"), "{stderr}");
    assert!(stderr.contains("spec.listeners[0]") && stderr.contains("port"), "{stderr}");
}

#[test]
fn unknown_api_version_of_a_gateway_api_kind_exits_2() {
    let path = write("version.yaml", "apiVersion: gateway.networking.k8s.io/v9\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {}\n");
    let out = portico(&["plan", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apiVersion") && stderr.contains("v9") && stderr.contains("HTTPRoute r"), "{stderr}");
}

#[test]
fn unknown_kinds_are_skipped_with_a_note() {
    let path = write("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n");
    let out = portico(&["plan", "-f", path.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped apps/v1 Deployment web"));
}

#[test]
fn bad_yaml_exits_2() {
    let path = write("syntax.yaml", "apiVersion: v1\nkind: [unclosed\n");
    let out = portico(&["plan", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax.yaml: document 0"));
}

#[test]
fn capabilities_prints_the_matrix() {
    let out = portico(&["capabilities"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("`portico.dev/haproxy`"));
}

#[test]
fn deeply_nested_yaml_is_refused_within_a_second_with_one_line() {
    // 200 KB of `[[[[...`: the YAML parser alone takes tens of seconds on this.
    let deep = write("deep.yaml", &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: x}}\nspec: {}\n", "[".repeat(200_000)));
    let indented: String = (0..300).map(|i| format!("{}a{i}:\n", "  ".repeat(i))).collect();
    let indented = write("indented.yaml", &indented);
    for path in [deep, indented] {
        let started = std::time::Instant::now();
        let out = portico(&["plan", "-f", path.to_str().unwrap()]);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(path.file_name().unwrap().to_str().unwrap()) && stderr.contains("levels deep"), "{stderr}");
    }
}

#[test]
fn permissions_print_each_clouds_own_document() {
    let out = portico(&["permissions", "aws", "--cluster-name", "prod-eu-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).expect("an IAM policy document (JSON)");
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().unwrap();
    assert!(statements.iter().all(|s| s["Effect"] == "Allow"));
    let owned = statements.iter().find(|s| s["Sid"] == "ElbChangeOwned").unwrap();
    assert_eq!(owned["Condition"]["StringEquals"]["aws:ResourceTag/portico.dev/cluster"][0], "prod-eu-1");

    let out = portico(&["permissions", "gcp", "--cluster-name", "prod-eu-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let role: serde_json::Value = serde_yaml::from_slice(&out.stdout).expect("a custom role (YAML)");
    assert_eq!(role["stage"], "GA");
    let granted = role["includedPermissions"].as_array().unwrap();
    assert_eq!(granted.len(), portico_gcp::permissions::REQUIRED.len());
    assert!(granted.contains(&serde_json::json!("compute.urlMaps.update")));

    let out = portico(&["permissions", "haproxy", "--cluster-name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs no cloud permissions"));
}

/// Whether a status (any `conditions` array in it, under our controllers' entries) reports a
/// problem, judged here from the full plan's JSON.
fn reports_problem(status: &serde_json::Value) -> bool {
    match status {
        serde_json::Value::Object(fields) => {
            if fields.get("controllerName").and_then(|c| c.as_str()).is_some_and(|c| !c.starts_with("portico.dev/")) {
                return false;
            }
            let bad = fields.get("conditions").and_then(|c| c.as_array()).into_iter().flatten().any(|c| match c["type"].as_str() {
                Some("Conflicted" | "PartiallyInvalid") => c["status"] == "True",
                _ => c["status"] == "False",
            });
            bad || fields.iter().any(|(k, v)| k != "conditions" && reports_problem(v))
        }
        serde_json::Value::Array(items) => items.iter().any(reports_problem),
        _ => false,
    }
}

#[test]
fn the_summary_counts_what_the_full_plan_prints_and_lists_exactly_the_objects_with_a_problem() {
    let broken = write(
        "summary-broken.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: broken, namespace: infra}\nspec:\n  parentRefs: [{name: edge}]\n  rules:\n  - backendRefs: [{name: missing, port: 8080}]\n",
    );
    let args = |summary: bool| {
        let mut args = vec!["plan", "-f", "examples/", "-f", broken.to_str().unwrap(), "-o", "json"];
        if summary {
            args.push("--summary");
        }
        let out = portico(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json output")
    };
    let (full, summary) = (args(false), args(true));
    let id = |o: &serde_json::Value| {
        format!("{} {}/{}", o["kind"].as_str().unwrap(), o["metadata"]["namespace"].as_str().unwrap_or(""), o["metadata"]["name"].as_str().unwrap())
    };
    let objects = full["objects"].as_array().unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for object in objects {
        *counts.entry(object["kind"].as_str().unwrap().to_string()).or_insert(0u64) += 1;
    }
    let summarized: std::collections::BTreeMap<String, u64> = serde_json::from_value(summary["objects"].clone()).unwrap();
    assert_eq!(summarized, counts);
    let mut expected: Vec<String> = objects.iter().filter(|o| reports_problem(&o["status"])).map(id).collect();
    let mut listed: Vec<String> = summary["problems"].as_array().unwrap().iter().map(id).collect();
    expected.sort();
    listed.sort();
    assert!(expected.contains(&"HTTPRoute infra/broken".to_string()), "{expected:?}");
    assert_eq!(listed, expected);
    assert_eq!(summary["withProblems"], listed.len());
    let full_gateways: Vec<&String> = full["gateways"].as_object().unwrap().keys().collect();
    let summary_gateways: Vec<&String> = summary["gateways"].as_object().unwrap().keys().collect();
    assert_eq!(summary_gateways, full_gateways);
    let edge = &full["gateways"]["infra/edge"]["ir"];
    let entries: usize = edge["ports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["virtualHosts"].as_array().cloned().unwrap_or_default())
        .map(|v| v["routes"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(summary["gateways"]["infra/edge"]["httpRouteEntries"], entries);
}
