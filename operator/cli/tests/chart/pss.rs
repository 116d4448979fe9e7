//! The Pod Security Standards' `restricted` profile (latest), as the PodSecurity admission
//! plugin checks a pod spec: every baseline rule plus restricted's own.

use serde_json::{Value, json};

const VOLUME_TYPES: &[&str] = &["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// What the restricted profile refuses in `spec` (a PodSpec), one line per violation.
pub fn restricted_violations(spec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[field] == true {
            out.push(format!("{field}=true"));
        }
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let kinds: Vec<&String> = volume.as_object().into_iter().flat_map(|o| o.keys()).filter(|k| *k != "name").collect();
        if kinds.iter().any(|k| !VOLUME_TYPES.contains(&k.as_str())) {
            out.push(format!("volume {} uses {kinds:?}", volume["name"]));
        }
    }
    let pod = &spec["securityContext"];
    if !pod["sysctls"].as_array().is_none_or(Vec::is_empty) {
        out.push("sysctls are set (only the safe set is allowed; none are needed)".into());
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"].iter().flat_map(|k| spec[k].as_array().cloned().unwrap_or_default());
    for container in containers {
        out.extend(container_violations(pod, &container));
    }
    out
}

fn container_violations(pod: &Value, container: &Value) -> Vec<String> {
    let name = container["name"].as_str().unwrap_or("?");
    let sc = &container["securityContext"];
    let effective = |field: &str| if sc[field].is_null() { pod[field].clone() } else { sc[field].clone() };
    let mut out = Vec::new();
    let mut refuse = |what: String| out.push(format!("container {name}: {what}"));
    if sc["privileged"] == true {
        refuse("privileged".into());
    }
    if sc["allowPrivilegeEscalation"] != false {
        refuse("allowPrivilegeEscalation must be false".into());
    }
    if effective("runAsNonRoot") != true {
        refuse("runAsNonRoot must be true".into());
    }
    if effective("runAsUser") == 0 {
        refuse("runAsUser must not be 0".into());
    }
    let seccomp = effective("seccompProfile");
    if !matches!(seccomp["type"].as_str(), Some("RuntimeDefault" | "Localhost")) {
        refuse(format!("seccompProfile.type must be RuntimeDefault or Localhost (is {})", seccomp["type"]));
    }
    let drop = sc["capabilities"]["drop"].as_array().cloned().unwrap_or_default();
    if !drop.contains(&json!("ALL")) {
        refuse("capabilities.drop must include ALL".into());
    }
    for added in sc["capabilities"]["add"].as_array().into_iter().flatten() {
        if added != "NET_BIND_SERVICE" {
            refuse(format!("capability {added} added"));
        }
    }
    if sc["procMount"].as_str().is_some_and(|p| p != "Default") {
        refuse("procMount must be Default".into());
    }
    for port in container["ports"].as_array().into_iter().flatten() {
        if port["hostPort"].as_i64().is_some_and(|p| p != 0) {
            refuse(format!("hostPort {}", port["hostPort"]));
        }
    }
    out
}

#[test]
fn the_checker_refuses_what_restricted_refuses() {
    let spec = json!({
        "hostNetwork": true,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}, "runAsUser": 0}, "ports": [{"containerPort": 80, "hostPort": 80}]}]
    });
    let found = restricted_violations(&spec);
    for expected in
        ["hostNetwork", "hostPath", "allowPrivilegeEscalation", "runAsNonRoot", "runAsUser", "seccompProfile", "drop must include ALL", "NET_ADMIN", "hostPort"]
    {
        assert!(found.iter().any(|v| v.contains(expected)), "{expected} not reported: {found:?}");
    }
    let fine = json!({
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "e", "emptyDir": {}}],
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
    });
    assert_eq!(restricted_violations(&fine), Vec::<String>::new());
}
