//! Observe one Gateway: every resource whose name carries the Gateway's prefix, in every scope
//! (one aggregated list per kind), sorted into ours (ownership record in the description) and
//! foreign ones; then the endpoints of our NEGs.

use portico_provider::ProviderError;
use serde_json::Value;

use super::{Clients, calls};
use crate::names::Namer;
use crate::native::{Kind, ResourceKey};
use crate::plan::Observed;

/// One page of an aggregated list as JSON: `items: { "<scope>": { "<collection>": [..] } }`.
macro_rules! aggregated_page {
    ($client:expr, $project:expr, $filter:expr, $token:expr) => {{
        let request = $client.aggregated_list().set_project($project).set_filter($filter);
        request.set_or_clear_page_token($token).send().await.map(|page| serde_json::to_value(&page).unwrap_or_default())
    }};
}

pub async fn observe(c: &Clients, project: &str, namer: &Namer) -> Result<Observed, ProviderError> {
    let filter = format!("name eq \"{}-.*\"", namer.prefix());
    let mut observed = Observed::default();
    for kind in Kind::ALL {
        for (location, item) in list(c, project, kind, &filter).await? {
            let Some(name) = item["name"].as_str().filter(|n| n.starts_with(&format!("{}-", namer.prefix()))) else { continue };
            let key = ResourceKey::new(kind, &location, name);
            if namer.owns(item["description"].as_str()) {
                observed.resources.insert(key, item);
            } else {
                observed.foreign.insert(key);
            }
        }
    }
    let negs: Vec<ResourceKey> = observed.resources.keys().filter(|k| k.kind == Kind::NetworkEndpointGroup).cloned().collect();
    for key in negs {
        let endpoints = calls::list_endpoints(c, project, &key).await?;
        observed.endpoints.insert(key, endpoints.into_iter().collect());
    }
    Ok(observed)
}

/// Every resource of one kind matching `filter`, with its location.
async fn list(c: &Clients, project: &str, kind: Kind, filter: &str) -> Result<Vec<(String, Value)>, ProviderError> {
    let collection = kind.collection();
    let operation = if kind == Kind::Firewall { "firewalls.list".to_string() } else { format!("{collection}.aggregatedList") };
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .call(&operation, &format!("{collection} of project {project}"), || async {
                match kind {
                    Kind::Firewall => {
                        let request = c.firewalls.list().set_project(project).set_filter(filter).set_or_clear_page_token(token.clone());
                        request.send().await.map(|page| serde_json::json!({ "items": { "global": { "firewalls": serde_json::to_value(&page).unwrap_or_default()["items"] } }, "nextPageToken": page.next_page_token }))
                    }
                    Kind::Address => aggregated_page!(c.addresses, project, filter, token.clone()),
                    Kind::SslCertificate => aggregated_page!(c.ssl_certificates, project, filter, token.clone()),
                    Kind::HealthCheck => aggregated_page!(c.health_checks, project, filter, token.clone()),
                    Kind::NetworkEndpointGroup => aggregated_page!(c.network_endpoint_groups, project, filter, token.clone()),
                    Kind::BackendService => aggregated_page!(c.backend_services, project, filter, token.clone()),
                    Kind::UrlMap => aggregated_page!(c.url_maps, project, filter, token.clone()),
                    Kind::TargetHttpProxy => aggregated_page!(c.target_http_proxies, project, filter, token.clone()),
                    Kind::TargetHttpsProxy => aggregated_page!(c.target_https_proxies, project, filter, token.clone()),
                    Kind::TargetTcpProxy => aggregated_page!(c.target_tcp_proxies, project, filter, token.clone()),
                    Kind::ForwardingRule => aggregated_page!(c.forwarding_rules, project, filter, token.clone()),
                }
            })
            .await?;
        for (scope, scoped) in page["items"].as_object().into_iter().flatten() {
            for item in scoped[collection].as_array().into_iter().flatten() {
                out.push((scope.clone(), item.clone()));
            }
        }
        token = page["nextPageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}
