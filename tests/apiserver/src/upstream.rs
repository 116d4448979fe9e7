//! The upstream Gateway API CRDs kept as test fixtures in `testdata/` (release artifacts,
//! unchanged), for tests and the sandbox that want the API exactly as a cluster serves it.

use serde_json::Value;
use std::path::PathBuf;

/// The Gateway API release whose CRDs are kept.
pub const GATEWAY_API_VERSION: &str = "v1.6.1";

/// An install bundle of the Gateway API release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Standard,
    Experimental,
}

impl Channel {
    /// The bundle's folder name (`standard`, `experimental`).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Standard => "standard",
            Channel::Experimental => "experimental",
        }
    }

    /// Parses `standard` or `experimental`.
    pub fn parse(text: &str) -> Option<Channel> {
        match text {
            "standard" => Some(Channel::Standard),
            "experimental" => Some(Channel::Experimental),
            _ => None,
        }
    }
}

/// The folder holding the CRDs of `channel` (in this crate's source tree).
pub fn gateway_api_dir(channel: Channel) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("testdata/gateway-api-{GATEWAY_API_VERSION}")).join(channel.name())
}

/// The CustomResourceDefinitions of one bundle as JSON, in file-name order; other documents
/// of the bundle (the ValidatingAdmissionPolicy) are left out.
pub fn gateway_api_crds(channel: Channel) -> std::io::Result<Vec<Value>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(gateway_api_dir(channel))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    let mut crds = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
            if value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                crds.push(value);
            }
        }
    }
    Ok(crds)
}
