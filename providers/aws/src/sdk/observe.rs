//! Read what exists for one Gateway. Load balancers are looked up by their deterministic names,
//! target groups by this Gateway's name prefix; ownership is always confirmed by tags (read 20
//! ARNs per `DescribeTags` call). Anything carrying our name without our tags is refused.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use portico_model::ir::ObjectRef;
use portico_provider::ProviderError;

use super::{Clients, code_of, convert, error};
use crate::names::{Namer, TAG_FINGERPRINT, TAG_RESOURCE};
use crate::native::{CertificateRef, HealthCheckSpec, Role};
use crate::observed::*;

/// Tags of up to any number of ELBv2 resources, 20 per call.
pub async fn elb_tags(clients: &Clients, arns: &[String]) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        clients.count("elbv2:DescribeTags");
        let response = clients.elb.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await.map_err(|e| error("DescribeTags", e))?;
        for description in response.tag_descriptions() {
            let tags = description.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
            out.insert(description.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

pub async fn observe(clients: &Clients, namer: &Namer) -> Result<Observed, ProviderError> {
    let mut observed = Observed::default();
    let (certificates, cert_names) = certificates(clients, namer).await?;
    observed.certificates = certificates;
    let (groups, group_names) = target_groups(clients, namer).await?;
    observed.target_groups = groups;
    observed.security_group = security_group(clients, namer).await?;
    let name_of = |arn: &str| group_names.get(arn).cloned().unwrap_or_else(|| arn.to_string());
    let cert_of = |arn: &str| cert_names.get(arn).map_or_else(|| CertificateRef::Arn(arn.to_string()), |s| CertificateRef::Secret(s.clone()));
    for role in [Role::Alb, Role::Nlb] {
        if let Some(lb) = load_balancer(clients, namer, role, &name_of, &cert_of).await? {
            observed.load_balancers.insert(role, lb);
        }
    }
    Ok(observed)
}

async fn load_balancer(
    clients: &Clients,
    namer: &Namer,
    role: Role,
    name_of: &(dyn Fn(&str) -> String + Sync),
    cert_of: &(dyn Fn(&str) -> CertificateRef + Sync),
) -> Result<Option<ObservedLoadBalancer>, ProviderError> {
    let name = namer.load_balancer(role);
    clients.count("elbv2:DescribeLoadBalancers");
    let response = match clients.elb.describe_load_balancers().names(&name).send().await {
        Ok(r) => r,
        Err(e) if code_of(&e) == Some("LoadBalancerNotFound") => return Ok(None),
        Err(e) => return Err(error("DescribeLoadBalancers", e)),
    };
    let Some(lb) = response.load_balancers().first() else { return Ok(None) };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let tags = elb_tags(clients, std::slice::from_ref(&arn)).await?;
    if !tags.get(&arn).is_some_and(|t| namer.owns(t)) {
        return Err(ProviderError::NotOwned { resource: format!("load balancer {name}") });
    }
    clients.count("elbv2:DescribeLoadBalancerAttributes");
    let attributes =
        clients.elb.describe_load_balancer_attributes().load_balancer_arn(&arn).send().await.map_err(|e| error("DescribeLoadBalancerAttributes", e))?;
    let attributes = attributes.attributes().iter().map(|a| (a.key().unwrap_or_default().to_string(), a.value().unwrap_or_default().to_string())).collect();
    let mut subnets: Vec<String> = lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect();
    subnets.sort();
    Ok(Some(ObservedLoadBalancer {
        listeners: listeners(clients, &arn, name_of, cert_of).await?,
        arn,
        name,
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        state: lb.state().and_then(|s| s.code()).map_or("active".into(), |c| c.as_str().to_string()),
        scheme: lb.scheme().map_or("internet-facing".into(), |s| s.as_str().to_string()),
        ip_address_type: lb.ip_address_type().map_or("ipv4".into(), |s| s.as_str().to_string()),
        subnets,
        security_groups: lb.security_groups().to_vec(),
        attributes,
    }))
}

async fn listeners(
    clients: &Clients,
    lb_arn: &str,
    name_of: &(dyn Fn(&str) -> String + Sync),
    cert_of: &(dyn Fn(&str) -> CertificateRef + Sync),
) -> Result<BTreeMap<u16, ObservedListener>, ProviderError> {
    let mut out = BTreeMap::new();
    let mut marker = None;
    loop {
        clients.count("elbv2:DescribeListeners");
        let page = clients.elb.describe_listeners().load_balancer_arn(lb_arn).set_marker(marker).send().await.map_err(|e| error("DescribeListeners", e))?;
        for listener in page.listeners() {
            let arn = listener.listener_arn().unwrap_or_default().to_string();
            let protocol = listener.protocol().map(|p| p.as_str().to_string()).unwrap_or_default();
            let Some(default_action) = listener.default_actions().first().and_then(|a| convert::action_from(a, name_of)) else { continue };
            let secure = protocol == "HTTPS" || protocol == "TLS";
            let certificates = if secure { listener_certificates(clients, &arn, cert_of).await? } else { Vec::new() };
            let observed = ObservedListener {
                rules: rules(clients, &arn, name_of).await?,
                arn,
                protocol,
                // Only TLS listeners have a policy (some implementations report one on all).
                ssl_policy: listener.ssl_policy().filter(|_| secure).map(str::to_string),
                certificates,
                default_action,
            };
            out.insert(listener.port().unwrap_or_default() as u16, observed);
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

/// The default certificate first, then the others sorted.
async fn listener_certificates(clients: &Clients, arn: &str, cert_of: &(dyn Fn(&str) -> CertificateRef + Sync)) -> Result<Vec<CertificateRef>, ProviderError> {
    let (mut default, mut others) = (Vec::new(), Vec::new());
    let mut marker = None;
    loop {
        clients.count("elbv2:DescribeListenerCertificates");
        let page = clients
            .elb
            .describe_listener_certificates()
            .listener_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error("DescribeListenerCertificates", e))?;
        for cert in page.certificates() {
            let reference = cert_of(cert.certificate_arn().unwrap_or_default());
            if cert.is_default() == Some(true) { default.push(reference) } else { others.push(reference) }
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    others.sort();
    others.dedup();
    default.extend(others.into_iter().filter(|o| !default.contains(o)).collect::<Vec<_>>());
    Ok(default)
}

async fn rules(clients: &Clients, listener_arn: &str, name_of: &(dyn Fn(&str) -> String + Sync)) -> Result<Vec<ObservedRule>, ProviderError> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        clients.count("elbv2:DescribeRules");
        let page =
            clients.elb.describe_rules().listener_arn(listener_arn).page_size(400).set_marker(marker).send().await.map_err(|e| error("DescribeRules", e))?;
        for rule in page.rules() {
            let Some(priority) = rule.priority().and_then(|p| p.parse::<i32>().ok()) else { continue };
            let arn = rule.rule_arn().unwrap_or_default().to_string();
            // A rule Portico cannot read back is replaced: it never matches a desired rule.
            let content = convert::rule_from(rule, name_of).unwrap_or_else(|| crate::native::Rule {
                conditions: Vec::new(),
                action: crate::native::Action::fixed(599, "unreadable rule"),
                transforms: Vec::new(),
                routes: Vec::new(),
            });
            out.push(ObservedRule { arn, priority, rule: content });
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    out.sort_by_key(|r| r.priority);
    Ok(out)
}

/// This Gateway's target groups (name prefix, then tags), with their registered targets.
async fn target_groups(clients: &Clients, namer: &Namer) -> Result<(BTreeMap<String, ObservedTargetGroup>, BTreeMap<String, String>), ProviderError> {
    let prefix = namer.target_group_prefix();
    let mut candidates = Vec::new();
    let mut marker = None;
    loop {
        clients.count("elbv2:DescribeTargetGroups");
        let page = clients.elb.describe_target_groups().page_size(400).set_marker(marker).send().await.map_err(|e| error("DescribeTargetGroups", e))?;
        candidates.extend(page.target_groups().iter().filter(|g| g.target_group_name().is_some_and(|n| n.starts_with(&prefix))).cloned());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let arns: Vec<String> = candidates.iter().filter_map(|g| g.target_group_arn().map(str::to_string)).collect();
    let tags = elb_tags(clients, &arns).await?;
    let (mut groups, mut names) = (BTreeMap::new(), BTreeMap::new());
    for group in candidates {
        let arn = group.target_group_arn().unwrap_or_default().to_string();
        let name = group.target_group_name().unwrap_or_default().to_string();
        if !tags.get(&arn).is_some_and(|t| namer.owns(t)) {
            continue;
        }
        let matcher = group.matcher().and_then(|m| m.http_code().or(m.grpc_code())).map(str::to_string);
        let protocol = group.health_check_protocol().map(|p| p.as_str().to_string()).unwrap_or_default();
        let http = protocol != "TCP";
        let health_check = HealthCheckSpec {
            path: if http { group.health_check_path().map(str::to_string) } else { None },
            success_codes: if http { matcher } else { None },
            protocol,
            port: group.health_check_port().unwrap_or("traffic-port").to_string(),
            interval_seconds: group.health_check_interval_seconds().unwrap_or_default(),
            timeout_seconds: group.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold: group.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: group.unhealthy_threshold_count().unwrap_or_default(),
        };
        clients.count("elbv2:DescribeTargetHealth");
        let health = clients.elb.describe_target_health().target_group_arn(&arn).send().await.map_err(|e| error("DescribeTargetHealth", e))?;
        let targets: BTreeSet<(String, u16)> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| (t.id().unwrap_or_default().to_string(), t.port().unwrap_or_default() as u16))
            .collect();
        let observed = ObservedTargetGroup {
            arn: arn.clone(),
            protocol: group.protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
            port: group.port().unwrap_or_default() as u16,
            health_check,
            targets,
        };
        names.insert(arn, name.clone());
        groups.insert(name, observed);
    }
    Ok((groups, names))
}

/// Certificates this Gateway imported (ACM has no names: every certificate's tags are read).
async fn certificates(clients: &Clients, namer: &Namer) -> Result<(BTreeMap<ObjectRef, ObservedCertificate>, BTreeMap<String, ObjectRef>), ProviderError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        clients.count("acm:ListCertificates");
        let page = clients.acm.list_certificates().max_items(1000).set_next_token(token).send().await.map_err(|e| error("ListCertificates", e))?;
        arns.extend(page.certificate_summary_list().iter().filter_map(|c| c.certificate_arn().map(str::to_string)));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let (mut out, mut names) = (BTreeMap::new(), BTreeMap::new());
    for arn in arns {
        clients.count("acm:ListTagsForCertificate");
        let response = clients.acm.list_tags_for_certificate().certificate_arn(&arn).send().await.map_err(|e| error("ListTagsForCertificate", e))?;
        let tags: BTreeMap<String, String> = response.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect();
        if !namer.owns(&tags) {
            continue;
        }
        let Some((namespace, name)) = tags.get(TAG_RESOURCE).and_then(|r| r.strip_prefix("certificate/")).and_then(|s| s.split_once('/')) else { continue };
        let secret = ObjectRef::new(namespace, name);
        names.insert(arn.clone(), secret.clone());
        out.insert(secret, ObservedCertificate { arn, fingerprint: tags.get(TAG_FINGERPRINT).cloned().unwrap_or_default() });
    }
    Ok((out, names))
}

async fn security_group(clients: &Clients, namer: &Namer) -> Result<Option<ObservedSecurityGroup>, ProviderError> {
    clients.count("ec2:DescribeSecurityGroups");
    let filter = Filter::builder().name("group-name").values(namer.security_group()).build();
    let response = clients.ec2.describe_security_groups().filters(filter).send().await.map_err(|e| error("DescribeSecurityGroups", e))?;
    let Some(group) = response.security_groups().first() else { return Ok(None) };
    let tags: BTreeMap<String, String> =
        group.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
    if !namer.owns(&tags) {
        return Err(ProviderError::NotOwned { resource: format!("security group {}", namer.security_group()) });
    }
    let mut ingress = BTreeSet::new();
    for permission in group.ip_permissions() {
        let protocol = permission.ip_protocol().unwrap_or_default().to_string();
        let port = permission.from_port().unwrap_or_default() as u16;
        for range in permission.ip_ranges() {
            ingress.insert((protocol.clone(), port, range.cidr_ip().unwrap_or_default().to_string()));
        }
    }
    Ok(Some(ObservedSecurityGroup { id: group.group_id().unwrap_or_default().to_string(), ingress }))
}
