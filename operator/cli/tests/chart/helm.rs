//! Rendering through Helm's library (PyPI `helm-python-sdk`, installed by `scripts/test`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../helm/portico")
}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("PORTICO_HELM_PYTHON") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let path = home.join(".cache/portico-tools/helm/bin/python");
    assert!(path.is_file(), "{} not found: run ./scripts/test (it installs helm-python-sdk) or set PORTICO_HELM_PYTHON", path.display());
    path
}

/// What Helm made of one value set.
pub struct Rendered {
    pub lint: Value,
    pub manifests: BTreeMap<String, String>,
    pub crds: BTreeMap<String, String>,
    pub error: Option<String>,
}

pub fn render(values: &Value) -> Rendered {
    let script = chart_dir().join("tests/render.py");
    let out = Command::new(python()).arg(&script).arg(chart_dir()).arg(values.to_string()).output().expect("python runs");
    assert!(out.status.success(), "render.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("render.py prints JSON");
    let map = |key: &str| -> BTreeMap<String, String> {
        doc[key].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default()
    };
    Rendered { lint: doc["lint"].clone(), manifests: map("manifests"), crds: map("crds"), error: doc["error"].as_str().map(str::to_string) }
}

/// Every YAML document of a multi-document text, without empty ones.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

impl Rendered {
    /// Rendered, or the test fails with Helm's message.
    pub fn ok(self) -> Rendered {
        if let Some(error) = &self.error {
            panic!("Helm refused the values: {error}");
        }
        let errors = self.lint_errors();
        assert!(errors.is_empty(), "helm lint --strict: {errors:?}");
        self
    }

    pub fn lint_errors(&self) -> Vec<String> {
        let messages = self.lint["messages"].as_array().cloned().unwrap_or_default();
        messages.iter().filter(|m| m["severity"].as_i64() == Some(3)).map(|m| m["error"].as_str().unwrap_or("").to_string()).collect()
    }

    /// The templates' objects (NOTES.txt is text, not a manifest).
    pub fn objects(&self) -> Vec<Value> {
        self.manifests.iter().filter(|(path, _)| path.ends_with(".yaml")).flat_map(|(_, text)| documents(text)).collect()
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<Value> {
        self.objects().into_iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    pub fn kinds(&self, kind: &str) -> Vec<Value> {
        self.objects().into_iter().filter(|o| o["kind"] == kind).collect()
    }

    pub fn notes(&self) -> &str {
        self.manifests.get("templates/NOTES.txt").map(String::as_str).unwrap_or("")
    }

    /// The Deployment's container arguments.
    pub fn args(&self) -> Vec<String> {
        let deployment = self.kinds("Deployment").pop().expect("a Deployment");
        let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
        args.as_array().expect("args").iter().map(|a| a.as_str().unwrap_or("").to_string()).collect()
    }
}
