//! One function per Compute call shape, dispatched by resource kind and scope (global,
//! regional, zonal). Bodies travel as the REST JSON of the native model and are converted to
//! the client's model types here. Mutating calls wait for their operation.

use google_cloud_compute_v1::model;
use google_cloud_gax::error::Error as GaxError;
use google_cloud_lro::Poller;
use portico_provider::ProviderError;
use serde_json::{Value, json};

use super::Clients;
use crate::native::{Kind, NetworkEndpoint, ResourceKey};

/// The region or zone of a location (`regions/x`, `zones/y`); `None` for `global`.
fn place(location: &str) -> Option<&str> {
    location.split_once('/').map(|(_, place)| place)
}

fn body<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, GaxError> {
    serde_json::from_value(value.clone()).map_err(GaxError::ser)
}

/// `$global` for `global`, `$regional` (with `set_region`) for `regions/...`.
macro_rules! scoped {
    ($location:expr, $global:expr, $regional:expr, $method:ident, |$b:ident| $rest:expr) => {
        match place($location) {
            Some(region) => {
                let $b = $regional.$method().set_region(region.to_string());
                $rest
            }
            None => {
                let $b = $global.$method();
                $rest
            }
        }
    };
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Insert a resource and wait for it. A retry reuses the request id, so GCP never creates
/// it twice.
pub async fn insert(c: &Clients, project: &str, key: &ResourceKey, value: &Value) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc) = (project.to_string(), key.location.as_str());
    let operation = format!("{}.insert", key.kind.collection());
    c.call(&operation, &key.to_string(), || async {
        let done = match key.kind {
            Kind::Firewall => c.firewalls.insert().set_project(&p).set_request_id(&id).set_body(body::<model::Firewall>(value)?).poller().until_done().await,
            Kind::Address => scoped!(loc, c.global_addresses, c.addresses, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::Address>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::SslCertificate => scoped!(loc, c.ssl_certificates, c.region_ssl_certificates, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::SslCertificate>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::HealthCheck => scoped!(loc, c.health_checks, c.region_health_checks, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::HealthCheck>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::NetworkEndpointGroup => {
                let zone = place(loc).unwrap_or_default().to_string();
                let neg = body::<model::NetworkEndpointGroup>(value)?;
                c.network_endpoint_groups.insert().set_project(&p).set_zone(zone).set_request_id(&id).set_body(neg).poller().until_done().await
            }
            Kind::BackendService => scoped!(loc, c.backend_services, c.region_backend_services, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::BackendService>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::UrlMap => scoped!(loc, c.url_maps, c.region_url_maps, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::UrlMap>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::TargetHttpProxy => scoped!(loc, c.target_http_proxies, c.region_target_http_proxies, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::TargetHttpProxy>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::TargetHttpsProxy => scoped!(loc, c.target_https_proxies, c.region_target_https_proxies, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::TargetHttpsProxy>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::TargetTcpProxy => scoped!(loc, c.target_tcp_proxies, c.region_target_tcp_proxies, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::TargetTcpProxy>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::ForwardingRule => scoped!(loc, c.global_forwarding_rules, c.forwarding_rules, insert, |b| b
                .set_project(&p)
                .set_request_id(&id)
                .set_body(body::<model::ForwardingRule>(value)?)
                .poller()
                .until_done()
                .await),
        };
        done.and_then(finished)
    })
    .await
}

/// Change a resource in place (the body carries the fingerprint GCP checks).
pub async fn patch(c: &Clients, project: &str, key: &ResourceKey, value: &Value) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let operation = format!("{}.patch", key.kind.collection());
    c.call(&operation, &key.to_string(), || async {
        let done = match key.kind {
            Kind::Firewall => {
                c.firewalls
                    .patch()
                    .set_project(&p)
                    .set_firewall(&name)
                    .set_request_id(&id)
                    .set_body(body::<model::Firewall>(value)?)
                    .poller()
                    .until_done()
                    .await
            }
            Kind::HealthCheck => scoped!(loc, c.health_checks, c.region_health_checks, patch, |b| b
                .set_project(&p)
                .set_health_check(&name)
                .set_request_id(&id)
                .set_body(body::<model::HealthCheck>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::BackendService => scoped!(loc, c.backend_services, c.region_backend_services, patch, |b| b
                .set_project(&p)
                .set_backend_service(&name)
                .set_request_id(&id)
                .set_body(body::<model::BackendService>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::UrlMap => scoped!(loc, c.url_maps, c.region_url_maps, patch, |b| b
                .set_project(&p)
                .set_url_map(&name)
                .set_request_id(&id)
                .set_body(body::<model::UrlMap>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::TargetHttpsProxy => scoped!(loc, c.target_https_proxies, c.region_target_https_proxies, patch, |b| b
                .set_project(&p)
                .set_target_https_proxy(&name)
                .set_request_id(&id)
                .set_body(body::<model::TargetHttpsProxy>(value)?)
                .poller()
                .until_done()
                .await),
            other => return Err(GaxError::ser(format!("{other:?} cannot be patched"))),
        };
        done.and_then(finished)
    })
    .await
}

/// Replace a resource in place (the body carries the fingerprint GCP checks).
pub async fn update(c: &Clients, project: &str, key: &ResourceKey, value: &Value) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let operation = format!("{}.update", key.kind.collection());
    c.call(&operation, &key.to_string(), || async {
        let done = match key.kind {
            Kind::Firewall => {
                c.firewalls
                    .update()
                    .set_project(&p)
                    .set_firewall(&name)
                    .set_request_id(&id)
                    .set_body(body::<model::Firewall>(value)?)
                    .poller()
                    .until_done()
                    .await
            }
            Kind::HealthCheck => scoped!(loc, c.health_checks, c.region_health_checks, update, |b| b
                .set_project(&p)
                .set_health_check(&name)
                .set_request_id(&id)
                .set_body(body::<model::HealthCheck>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::BackendService => scoped!(loc, c.backend_services, c.region_backend_services, update, |b| b
                .set_project(&p)
                .set_backend_service(&name)
                .set_request_id(&id)
                .set_body(body::<model::BackendService>(value)?)
                .poller()
                .until_done()
                .await),
            Kind::UrlMap => scoped!(loc, c.url_maps, c.region_url_maps, update, |b| b
                .set_project(&p)
                .set_url_map(&name)
                .set_request_id(&id)
                .set_body(body::<model::UrlMap>(value)?)
                .poller()
                .until_done()
                .await),
            other => return Err(GaxError::ser(format!("{other:?} cannot be updated"))),
        };
        done.and_then(finished)
    })
    .await
}

/// Point a forwarding rule at another proxy.
pub async fn set_target(c: &Clients, project: &str, key: &ResourceKey, target: &str) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let reference =
        body::<model::TargetReference>(&json!({ "target": target })).map_err(|e| super::error("forwardingRules.setTarget", &key.to_string(), &e))?;
    c.call("forwardingRules.setTarget", &key.to_string(), || async {
        let done = scoped!(loc, c.global_forwarding_rules, c.forwarding_rules, set_target, |b| b
            .set_project(&p)
            .set_forwarding_rule(&name)
            .set_request_id(&id)
            .set_body(reference.clone())
            .poller()
            .until_done()
            .await);
        done.and_then(finished)
    })
    .await
}

/// Attach a Cloud Armor policy to a backend service (`None`: detach).
pub async fn set_security_policy(c: &Clients, project: &str, key: &ResourceKey, policy: Option<&str>) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let reference = body::<model::SecurityPolicyReference>(&json!({ "securityPolicy": policy }))
        .map_err(|e| super::error("backendServices.setSecurityPolicy", &key.to_string(), &e))?;
    c.call("backendServices.setSecurityPolicy", &key.to_string(), || async {
        let done = scoped!(loc, c.backend_services, c.region_backend_services, set_security_policy, |b| b
            .set_project(&p)
            .set_backend_service(&name)
            .set_request_id(&id)
            .set_body(reference.clone())
            .poller()
            .until_done()
            .await);
        done.and_then(finished)
    })
    .await
}

/// Point an HTTP proxy at another URL map.
pub async fn set_url_map(c: &Clients, project: &str, key: &ResourceKey, url_map: &str) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let reference =
        body::<model::UrlMapReference>(&json!({ "urlMap": url_map })).map_err(|e| super::error("targetHttpProxies.setUrlMap", &key.to_string(), &e))?;
    c.call("targetHttpProxies.setUrlMap", &key.to_string(), || async {
        let done = scoped!(loc, c.target_http_proxies, c.region_target_http_proxies, set_url_map, |b| b
            .set_project(&p)
            .set_target_http_proxy(&name)
            .set_request_id(&id)
            .set_body(reference.clone())
            .poller()
            .until_done()
            .await);
        done.and_then(finished)
    })
    .await
}

/// Delete a resource; deleting what does not exist succeeds.
pub async fn delete(c: &Clients, project: &str, key: &ResourceKey) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, loc, name) = (project.to_string(), key.location.as_str(), key.name.clone());
    let operation = format!("{}.delete", key.kind.collection());
    c.call(&operation, &key.to_string(), || async {
        let done = match key.kind {
            Kind::Firewall => c.firewalls.delete().set_project(&p).set_firewall(&name).set_request_id(&id).poller().until_done().await,
            Kind::Address => {
                scoped!(loc, c.global_addresses, c.addresses, delete, |b| b.set_project(&p).set_address(&name).set_request_id(&id).poller().until_done().await)
            }
            Kind::SslCertificate => scoped!(loc, c.ssl_certificates, c.region_ssl_certificates, delete, |b| b
                .set_project(&p)
                .set_ssl_certificate(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::HealthCheck => scoped!(loc, c.health_checks, c.region_health_checks, delete, |b| b
                .set_project(&p)
                .set_health_check(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::NetworkEndpointGroup => {
                let zone = place(loc).unwrap_or_default().to_string();
                c.network_endpoint_groups
                    .delete()
                    .set_project(&p)
                    .set_zone(zone)
                    .set_network_endpoint_group(&name)
                    .set_request_id(&id)
                    .poller()
                    .until_done()
                    .await
            }
            Kind::BackendService => scoped!(loc, c.backend_services, c.region_backend_services, delete, |b| b
                .set_project(&p)
                .set_backend_service(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::UrlMap => {
                scoped!(loc, c.url_maps, c.region_url_maps, delete, |b| b.set_project(&p).set_url_map(&name).set_request_id(&id).poller().until_done().await)
            }
            Kind::TargetHttpProxy => scoped!(loc, c.target_http_proxies, c.region_target_http_proxies, delete, |b| b
                .set_project(&p)
                .set_target_http_proxy(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::TargetHttpsProxy => scoped!(loc, c.target_https_proxies, c.region_target_https_proxies, delete, |b| b
                .set_project(&p)
                .set_target_https_proxy(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::TargetTcpProxy => scoped!(loc, c.target_tcp_proxies, c.region_target_tcp_proxies, delete, |b| b
                .set_project(&p)
                .set_target_tcp_proxy(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
            Kind::ForwardingRule => scoped!(loc, c.global_forwarding_rules, c.forwarding_rules, delete, |b| b
                .set_project(&p)
                .set_forwarding_rule(&name)
                .set_request_id(&id)
                .poller()
                .until_done()
                .await),
        };
        match done.and_then(finished) {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other,
        }
    })
    .await
}

/// A finished operation's own error (the poller returns failed operations as `Ok`).
fn finished(operation: model::Operation) -> Result<(), GaxError> {
    use google_cloud_lro::internal::DiscoveryOperation;
    match DiscoveryOperation::error(&operation) {
        Some(status) => Err(GaxError::service(status)),
        None => Ok(()),
    }
}

fn is_not_found(e: &GaxError) -> bool {
    e.http_status_code() == Some(404) || e.status().is_some_and(|s| s.code == google_cloud_gax::error::rpc::Code::NotFound)
}

/// Add or remove endpoints of a zonal NEG.
pub async fn change_endpoints(c: &Clients, project: &str, key: &ResourceKey, endpoints: &[NetworkEndpoint], attach: bool) -> Result<(), ProviderError> {
    let id = new_request_id();
    let (p, zone, name) = (project.to_string(), place(&key.location).unwrap_or_default().to_string(), key.name.clone());
    let list = json!({ "networkEndpoints": endpoints.iter().map(|e| json!({ "ipAddress": e.ip_address, "port": e.port, "instance": e.instance })).collect::<Vec<_>>() });
    let verb = if attach { "attachNetworkEndpoints" } else { "detachNetworkEndpoints" };
    c.call(&format!("networkEndpointGroups.{verb}"), &key.to_string(), || async {
        let neg = &c.network_endpoint_groups;
        let done = if attach {
            let request = body::<model::NetworkEndpointGroupsAttachEndpointsRequest>(&list)?;
            neg.attach_network_endpoints()
                .set_project(&p)
                .set_zone(&zone)
                .set_network_endpoint_group(&name)
                .set_request_id(&id)
                .set_body(request)
                .poller()
                .until_done()
                .await
        } else {
            let request = body::<model::NetworkEndpointGroupsDetachEndpointsRequest>(&list)?;
            neg.detach_network_endpoints()
                .set_project(&p)
                .set_zone(&zone)
                .set_network_endpoint_group(&name)
                .set_request_id(&id)
                .set_body(request)
                .poller()
                .until_done()
                .await
        };
        done.and_then(finished)
    })
    .await
}

/// The endpoints of a zonal NEG.
pub async fn list_endpoints(c: &Clients, project: &str, key: &ResourceKey) -> Result<Vec<NetworkEndpoint>, ProviderError> {
    let zone = place(&key.location).unwrap_or_default().to_string();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .call("networkEndpointGroups.listNetworkEndpoints", &key.to_string(), || {
                let request = c.network_endpoint_groups.list_network_endpoints().set_project(project).set_zone(&zone).set_network_endpoint_group(&key.name);
                let request = request.set_body(model::NetworkEndpointGroupsListEndpointsRequest::default()).set_or_clear_page_token(token.clone());
                request.send()
            })
            .await?;
        let page = serde_json::to_value(&page).unwrap_or_default();
        for item in page["items"].as_array().into_iter().flatten() {
            let e = &item["networkEndpoint"];
            let port = e["port"].as_u64().or_else(|| e["port"].as_str().and_then(|p| p.parse().ok())).unwrap_or(0);
            let instance = e["instance"].as_str().unwrap_or_default();
            out.push(NetworkEndpoint {
                ip_address: e["ipAddress"].as_str().unwrap_or_default().into(),
                port: port as u16,
                instance: instance.rsplit('/').next().unwrap_or(instance).into(),
            });
        }
        token = page["nextPageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The IP of a reserved address.
pub async fn get_address(c: &Clients, project: &str, key: &ResourceKey) -> Result<String, ProviderError> {
    let (loc, name) = (key.location.as_str(), key.name.as_str());
    let operation = if place(loc).is_some() { "addresses.get" } else { "globalAddresses.get" };
    let address = c
        .call(operation, &key.to_string(), || async {
            match place(loc) {
                Some(region) => c.addresses.get().set_project(project).set_region(region).set_address(name).send().await,
                None => c.global_addresses.get().set_project(project).set_address(name).send().await,
            }
        })
        .await?;
    address.address.ok_or_else(|| ProviderError::Transient {
        platform: "GCP".into(),
        operation: operation.into(),
        message: format!("{key}: no IP assigned yet"),
    })
}
