//! Reading a [`Snapshot`] from YAML/JSON files: what `portico plan` and the golden tests use.
//!
//! Every document is checked against the kinds and versions Portico reads. Anything unreadable
//! is an error naming the file, the document index, the object and the field; kinds Portico does
//! not read are skipped with a note.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::GATEWAY_GROUP;
use crate::capabilities::PORTICO_GROUP;
use crate::snapshot::{ParametersObject, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: document {index}: not valid YAML/JSON: {message}")]
    Syntax { path: String, index: usize, message: String },
    #[error("{path}: line {line}: {message}")]
    Refused { path: String, line: usize, message: String },
    #[error("{path}: document {index}: {object}: field `{field}`: {message}")]
    Invalid { path: String, index: usize, object: String, field: String, message: String },
    #[error("{path}: document {index}: {object}: field `apiVersion`: {api_version} is not a served version of {kind} (Portico reads {accepted})")]
    UnknownVersion { path: String, index: usize, object: String, kind: String, api_version: String, accepted: String },
}

/// The result of loading: the snapshot, plus notes about skipped documents.
#[derive(Debug, Default)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub notes: Vec<String>,
}

/// Load files and directories (read recursively, in sorted order).
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for path in paths {
        for file in expand(path)? {
            let text = std::fs::read_to_string(&file).map_err(|e| LoadError::Io { path: file.display().to_string(), message: e.to_string() })?;
            load_str(&text, &file.display().to_string(), &mut loaded)?;
        }
    }
    Ok(loaded)
}

fn expand(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |e: std::io::Error| LoadError::Io { path: path.display().to_string(), message: e.to_string() };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path).map_err(io)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            files.extend(expand(&entry)?);
        } else if matches!(entry.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            files.push(entry);
        }
    }
    Ok(files)
}

/// The largest text read (bytes): far beyond any set of Kubernetes objects, small enough that
/// parsing it stays quick.
pub const MAX_TEXT_BYTES: usize = 64 << 20;

/// The deepest nesting read, flow (`[`, `{`) and block (indentation, `- `) together. serde_yaml
/// stops at 128 levels anyway, but only after its parser has gone through the whole text, which
/// takes tens of seconds for a few hundred kilobytes of `[[[[`; Gateway API objects nest about 12.
pub const MAX_DEPTH: usize = 100;

/// Load every document of one YAML/JSON text into `loaded`. `origin` names it in errors.
pub fn load_str(text: &str, origin: &str, loaded: &mut Loaded) -> Result<(), LoadError> {
    precheck(text).map_err(|(line, message)| LoadError::Refused { path: origin.to_string(), line, message })?;
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let syntax = |message: String| LoadError::Syntax { path: origin.to_string(), index, message };
        let yaml: serde_yaml::Value = serde::Deserialize::deserialize(document).map_err(|e| syntax(e.to_string()))?;
        if yaml.is_null() {
            continue;
        }
        let value = serde_json::to_value(yaml).map_err(|e| syntax(e.to_string()))?;
        let at = Location { path: origin, index };
        load_value(value, &at, loaded)?;
    }
    Ok(())
}

/// Size and nesting checked before the YAML parser sees the text: `Err((line, why))`.
/// Nesting is over-estimated (brackets inside quoted or plain scalars count too), which only
/// matters for texts no Kubernetes object resembles.
fn precheck(text: &str) -> Result<(), (usize, String)> {
    if text.len() > MAX_TEXT_BYTES {
        return Err((1, format!("{} bytes is more than the {MAX_TEXT_BYTES} read", text.len())));
    }
    let mut flow: usize = 0;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t', '-']).len();
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') if flow > 0 => quote = Some(c),
                (None, '#') if flow == 0 => break,
                (None, '[' | '{') => flow += 1,
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        // Two columns of indentation or one `- ` per level, at the least.
        let depth = flow + indent / 2;
        if depth > MAX_DEPTH {
            return Err((n + 1, format!("nested more than {MAX_DEPTH} levels deep: not a Kubernetes object Portico reads")));
        }
    }
    Ok(())
}

struct Location<'a> {
    path: &'a str,
    index: usize,
}

impl Location<'_> {
    fn invalid(&self, object: &str, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::Invalid { path: self.path.to_string(), index: self.index, object: object.to_string(), field: field.to_string(), message: message.into() }
    }
}

/// The kinds Portico reads: (group, kind, accepted versions, canonical version).
const KINDS: &[(&str, &str, &[&str])] = &[
    (GATEWAY_GROUP, "GatewayClass", &["v1", "v1beta1"]),
    (GATEWAY_GROUP, "Gateway", &["v1", "v1beta1"]),
    (GATEWAY_GROUP, "ListenerSet", &["v1"]),
    (GATEWAY_GROUP, "HTTPRoute", &["v1", "v1beta1"]),
    (GATEWAY_GROUP, "GRPCRoute", &["v1", "v1alpha2"]),
    (GATEWAY_GROUP, "TLSRoute", &["v1", "v1alpha3", "v1alpha2"]),
    (GATEWAY_GROUP, "TCPRoute", &["v1", "v1alpha2"]),
    (GATEWAY_GROUP, "UDPRoute", &["v1", "v1alpha2"]),
    (GATEWAY_GROUP, "ReferenceGrant", &["v1", "v1beta1", "v1alpha2"]),
    (GATEWAY_GROUP, "BackendTLSPolicy", &["v1", "v1alpha3"]),
    ("", "Service", &["v1"]),
    ("", "Secret", &["v1"]),
    ("", "ConfigMap", &["v1"]),
    ("", "Namespace", &["v1"]),
    ("discovery.k8s.io", "EndpointSlice", &["v1"]),
];

fn load_value(mut value: Value, at: &Location<'_>, loaded: &mut Loaded) -> Result<(), LoadError> {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let object = format!("{kind} {name}").trim().to_string();
    if kind == "List" {
        let items = value.get_mut("items").map(Value::take).unwrap_or(Value::Null);
        for item in items.as_array().cloned().unwrap_or_default() {
            load_value(item, at, loaded)?;
        }
        return Ok(());
    }
    if api_version.is_empty() || kind.is_empty() {
        let field = if api_version.is_empty() { "apiVersion" } else { "kind" };
        return Err(at.invalid(if object.is_empty() { "object" } else { &object }, field, "is required"));
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
    if group == PORTICO_GROUP {
        return load_parameters(value, &kind, &object, at, loaded);
    }
    let Some((_, _, versions)) = KINDS.iter().find(|(g, k, _)| *g == group && *k == kind) else {
        loaded.notes.push(format!("{}: document {}: skipped {api_version} {object}: not a kind Portico reads", at.path, at.index));
        return Ok(());
    };
    if !versions.contains(&version) {
        return Err(LoadError::UnknownVersion {
            path: at.path.to_string(),
            index: at.index,
            object,
            kind,
            api_version: api_version.clone(),
            accepted: versions.iter().map(|v| if group.is_empty() { v.to_string() } else { format!("{group}/{v}") }).collect::<Vec<_>>().join(", "),
        });
    }
    if name.is_empty() {
        return Err(at.invalid(&object, "metadata.name", "is required"));
    }
    // Normalise to the version the typed model deserializes, and default the namespace as
    // `kubectl apply` would.
    let canonical = if group.is_empty() { "v1".to_string() } else { format!("{group}/{}", versions[0]) };
    value["apiVersion"] = Value::String(canonical);
    if kind != "GatewayClass" && kind != "Namespace" && value.pointer("/metadata/namespace").is_none() {
        value["metadata"]["namespace"] = Value::String("default".into());
    }
    let snapshot = &mut loaded.snapshot;
    match kind.as_str() {
        "GatewayClass" => snapshot.gateway_classes.push(typed(value, &object, at)?),
        "Gateway" => snapshot.gateways.push(typed(value, &object, at)?),
        "ListenerSet" => snapshot.listener_sets.push(typed(value, &object, at)?),
        "HTTPRoute" => snapshot.http_routes.push(typed(value, &object, at)?),
        "GRPCRoute" => snapshot.grpc_routes.push(typed(value, &object, at)?),
        "TLSRoute" => snapshot.tls_routes.push(typed(value, &object, at)?),
        "TCPRoute" => snapshot.tcp_routes.push(typed(value, &object, at)?),
        "UDPRoute" => snapshot.udp_routes.push(typed(value, &object, at)?),
        "ReferenceGrant" => snapshot.reference_grants.push(typed(value, &object, at)?),
        "BackendTLSPolicy" => snapshot.backend_tls_policies.push(typed(value, &object, at)?),
        "Service" => snapshot.services.push(typed(value, &object, at)?),
        "Secret" => snapshot.secrets.push(secret(value, &object, at)?),
        "ConfigMap" => snapshot.config_maps.push(typed(value, &object, at)?),
        "Namespace" => snapshot.namespaces.push(typed(value, &object, at)?),
        "EndpointSlice" => snapshot.endpoint_slices.push(typed(value, &object, at)?),
        _ => unreachable!("every kind in KINDS is handled"),
    }
    Ok(())
}

fn load_parameters(value: Value, kind: &str, object: &str, at: &Location<'_>, loaded: &mut Loaded) -> Result<(), LoadError> {
    let name = value.pointer("/metadata/name").and_then(Value::as_str);
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(at.invalid(object, "metadata.name", "is required"));
    };
    loaded.snapshot.parameters.push(ParametersObject {
        group: PORTICO_GROUP.to_string(),
        kind: kind.to_string(),
        namespace: value.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string),
        name: name.to_string(),
        spec: value.get("spec").cloned().unwrap_or(Value::Null),
    });
    Ok(())
}

/// Secrets may carry `stringData` (as written by people); fold it into `data` as the API server does.
fn secret(mut value: Value, object: &str, at: &Location<'_>) -> Result<k8s_openapi::api::core::v1::Secret, LoadError> {
    use base64::Engine as _;
    if let Some(Value::Object(string_data)) = value.get_mut("stringData").map(Value::take) {
        if !value.get("data").is_some_and(Value::is_object) {
            value["data"] = Value::Object(Default::default());
        }
        for (key, text) in string_data {
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_str().unwrap_or_default());
            value["data"][key] = Value::String(encoded);
        }
        if let Some(map) = value.as_object_mut() {
            map.remove("stringData");
        }
    }
    typed(value, object, at)
}

fn typed<T: DeserializeOwned>(value: Value, object: &str, at: &Location<'_>) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { "(document)".to_string() } else { field };
        at.invalid(object, &field, error.inner().to_string())
    })
}
