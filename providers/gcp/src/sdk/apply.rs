//! Apply a plan step by step (each call waits for its operation), then read the address the
//! Gateway reports.

use std::collections::BTreeMap;

use portico_model::ir::Address;
use portico_provider::{Applied, ProviderError};
use serde_json::Value;

use super::{Clients, calls};
use crate::native::{Kind, ResourceKey};
use crate::plan::{Plan, Step};

pub use crate::plan::AddressSource;

pub struct Inputs<'a> {
    pub plan: &'a Plan,
    /// PEM (chain then key) by SSL certificate name.
    pub pems: &'a BTreeMap<String, Vec<u8>>,
    pub address: &'a AddressSource,
    /// Crash tests: stop after this many steps.
    pub stop_after: Option<usize>,
}

/// Apply the plan wave by wave ([`crate::plan::waves`]); a wave's steps run concurrently (at
/// most `concurrent_calls` at once: each waits for its operation, which takes GCP 1-2 s). A
/// failed step fails the apply once the rest of its wave finished (the next pass repairs what is
/// left: names are deterministic and retries reuse request ids).
pub async fn apply(c: &Clients, inputs: Inputs<'_>) -> Result<Applied, ProviderError> {
    use futures_util::FutureExt as _;
    use portico_provider::BoxFuture;
    let project = inputs.plan.project.as_str();
    let mut done = 0;
    for wave in crate::plan::waves(&inputs.plan.steps) {
        let allowed = inputs.stop_after.map_or(wave.len(), |stop| stop.saturating_sub(done).min(wave.len()));
        let calls: Vec<BoxFuture<'_, Result<(), ProviderError>>> = wave[..allowed].iter().map(|step| run(c, project, step, inputs.pems).boxed()).collect();
        let results = portico_provider::calls::bounded(calls, c.concurrent_calls).await;
        results.into_iter().collect::<Result<Vec<()>, ProviderError>>()?;
        done += allowed;
        if allowed < wave.len() {
            return Err(ProviderError::Transient {
                platform: "GCP".into(),
                operation: "apply".into(),
                message: format!("interrupted after {done} steps (test)"),
            });
        }
    }
    let addresses = match inputs.address {
        AddressSource::Resource(key) => vec![Address { address_type: "IPAddress".into(), value: calls::get_address(c, project, key).await? }],
        AddressSource::Literal(ip) => vec![Address { address_type: "IPAddress".into(), value: ip.clone() }],
        AddressSource::None => Vec::new(),
    };
    Ok(Applied { addresses, ready: true, ..Applied::default() })
}

async fn run(c: &Clients, project: &str, step: &Step, pems: &BTreeMap<String, Vec<u8>>) -> Result<(), ProviderError> {
    match step {
        Step::Insert { key, body } if key.kind == Kind::SslCertificate => calls::insert(c, project, key, &with_material(key, body, pems)?).await,
        Step::Insert { key, body } => calls::insert(c, project, key, body).await,
        Step::Update { key, body } => calls::update(c, project, key, body).await,
        Step::Patch { key, body } => calls::patch(c, project, key, body).await,
        Step::SetUrlMap { key, url_map } => calls::set_url_map(c, project, key, url_map).await,
        Step::SetTarget { key, target } => calls::set_target(c, project, key, target).await,
        Step::SetSecurityPolicy { key, policy } => calls::set_security_policy(c, project, key, policy.as_deref()).await,
        Step::AttachEndpoints { key, endpoints } => calls::change_endpoints(c, project, key, endpoints, true).await,
        Step::DetachEndpoints { key, endpoints } => calls::change_endpoints(c, project, key, endpoints, false).await,
        Step::Delete { key } => calls::delete(c, project, key).await,
    }
}

/// The certificate body with the Secret's chain and key (never part of the printed plan).
fn with_material(key: &ResourceKey, body: &Value, pems: &BTreeMap<String, Vec<u8>>) -> Result<Value, ProviderError> {
    let missing =
        || ProviderError::Rejected { platform: "GCP".into(), operation: "sslCertificates.insert".into(), message: format!("{key}: no certificate material") };
    let pem = String::from_utf8_lossy(pems.get(&key.name).ok_or_else(missing)?).to_string();
    let (chain, private_key) = split_pem(&pem).ok_or_else(missing)?;
    let mut body = body.clone();
    body["certificate"] = Value::String(chain);
    body["privateKey"] = Value::String(private_key);
    Ok(body)
}

/// Split a PEM bundle into (certificate chain, private key).
pub fn split_pem(pem: &str) -> Option<(String, String)> {
    let mut chain = String::new();
    let mut key = String::new();
    let mut in_key = false;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            in_key = line.contains("PRIVATE KEY");
        }
        let target = if in_key { &mut key } else { &mut chain };
        target.push_str(line);
        target.push('\n');
    }
    (!chain.trim().is_empty() && !key.trim().is_empty()).then_some((chain, key))
}
