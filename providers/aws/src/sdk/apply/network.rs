//! EC2 and ACM steps: subnet discovery, the managed security group, certificate import.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use aws_smithy_types::Blob;
use portico_provider::ProviderError;

use super::super::{Clients, error};
use crate::names::TAG_FINGERPRINT;
use crate::params::AWSLoadBalancerParametersSpec;

fn rejected(operation: &str, message: String) -> ProviderError {
    ProviderError::Rejected { platform: "AWS".into(), operation: operation.into(), message }
}

/// The VPC of the subnets in use (looked up once per apply).
pub async fn vpc(clients: &Clients, params: &AWSLoadBalancerParametersSpec, cache: &mut Option<(String, Vec<String>)>) -> Result<String, ProviderError> {
    Ok(vpc_and_subnets(clients, params, cache).await?.0)
}

/// The VPC and subnets: the configured IDs, or one subnet per availability zone among those
/// tagged for the scheme (`kubernetes.io/role/elb` or `kubernetes.io/role/internal-elb`) and
/// carrying the extra tags of the parameters.
pub async fn vpc_and_subnets(
    clients: &Clients,
    params: &AWSLoadBalancerParametersSpec,
    cache: &mut Option<(String, Vec<String>)>,
) -> Result<(String, Vec<String>), ProviderError> {
    if let Some(found) = cache {
        return Ok(found.clone());
    }
    let mut request = clients.ec2.describe_subnets();
    if params.subnets.ids.is_empty() {
        request = request.filters(Filter::builder().name("tag-key").values(params.scheme.subnet_role_tag()).build());
        for (key, value) in &params.subnets.tags {
            request = request.filters(Filter::builder().name(format!("tag:{key}")).values(value).build());
        }
    } else {
        request = request.set_subnet_ids(Some(params.subnets.ids.clone()));
    }
    clients.count("ec2:DescribeSubnets");
    let response = request.send().await.map_err(|e| error("DescribeSubnets", e))?;
    let mut found: Vec<(String, String, String)> = response
        .subnets()
        .iter()
        .map(|s| {
            (s.availability_zone().unwrap_or_default().to_string(), s.subnet_id().unwrap_or_default().to_string(), s.vpc_id().unwrap_or_default().to_string())
        })
        .collect();
    found.sort();
    if !params.subnets.ids.is_empty() {
        found.retain(|(_, id, _)| params.subnets.ids.contains(id));
    } else {
        found.dedup_by(|a, b| a.0 == b.0);
    }
    let Some(vpc) = found.first().map(|f| f.2.clone()) else {
        let how =
            if params.subnets.ids.is_empty() { format!("tagged {}", params.scheme.subnet_role_tag()) } else { format!("with IDs {:?}", params.subnets.ids) };
        return Err(rejected("DescribeSubnets", format!("no subnets {how} were found")));
    };
    if found.iter().any(|f| f.2 != vpc) {
        return Err(rejected("DescribeSubnets", "the subnets are in more than one VPC".into()));
    }
    let subnets: Vec<String> = found.into_iter().map(|f| f.1).collect();
    *cache = Some((vpc.clone(), subnets.clone()));
    Ok((vpc, subnets))
}

pub async fn create_security_group(clients: &Clients, name: &str, vpc: &str, tags: &BTreeMap<String, String>) -> Result<String, ProviderError> {
    let tags: Vec<Tag> = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    let spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(tags)).build();
    clients.count("ec2:CreateSecurityGroup");
    let response = clients
        .ec2
        .create_security_group()
        .group_name(name)
        .description("Portico: load balancer listener ports")
        .vpc_id(vpc)
        .tag_specifications(spec)
        .send()
        .await
        .map_err(|e| error("CreateSecurityGroup", e))?;
    Ok(response.group_id().unwrap_or_default().to_string())
}

/// Open (or close) listener ports: one call for all permissions.
pub async fn ingress(clients: &Clients, group: &str, permissions: &[(String, u16, String)], open: bool) -> Result<(), ProviderError> {
    let mut by_port: BTreeMap<(&str, u16), Vec<IpRange>> = BTreeMap::new();
    for (protocol, port, cidr) in permissions {
        by_port.entry((protocol, *port)).or_default().push(IpRange::builder().cidr_ip(cidr).build());
    }
    let permissions: Vec<IpPermission> = by_port
        .into_iter()
        .map(|((protocol, port), ranges)| {
            IpPermission::builder().ip_protocol(protocol).from_port(i32::from(port)).to_port(i32::from(port)).set_ip_ranges(Some(ranges)).build()
        })
        .collect();
    if open {
        clients.count("ec2:AuthorizeSecurityGroupIngress");
        clients
            .ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map_err(|e| error("AuthorizeSecurityGroupIngress", e))?;
    } else {
        clients.count("ec2:RevokeSecurityGroupIngress");
        clients
            .ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map_err(|e| error("RevokeSecurityGroupIngress", e))?;
    }
    Ok(())
}

/// PEM blocks of one kind, each re-emitted with its armour.
fn pem_blocks(pem: &str, kind_suffix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") && line.ends_with(&format!("{kind_suffix}-----")) {
            current = Some(format!("{line}\n"));
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                out.extend(current.take());
            }
        }
    }
    out
}

/// Import (or re-import in place, keeping the ARN) a Secret's certificate and key.
pub async fn import_certificate(
    clients: &Clients,
    pem: &[u8],
    fingerprint: &str,
    tags: &BTreeMap<String, String>,
    replace: Option<&str>,
) -> Result<String, ProviderError> {
    let text = String::from_utf8_lossy(pem);
    let certs = pem_blocks(&text, "CERTIFICATE");
    let key = pem_blocks(&text, "PRIVATE KEY").into_iter().next();
    let (Some(leaf), Some(key)) = (certs.first(), key) else {
        return Err(rejected("ImportCertificate", "the Secret has no PEM certificate and private key".into()));
    };
    let chain: String = certs[1..].concat();
    let mut request = clients.acm.import_certificate().certificate(Blob::new(leaf.as_bytes())).private_key(Blob::new(key.as_bytes()));
    if !chain.is_empty() {
        request = request.certificate_chain(Blob::new(chain.as_bytes()));
    }
    let mut all_tags = tags.clone();
    all_tags.insert(TAG_FINGERPRINT.into(), fingerprint.into());
    let acm_tags: Vec<aws_sdk_acm::types::Tag> = all_tags.iter().filter_map(|(k, v)| aws_sdk_acm::types::Tag::builder().key(k).value(v).build().ok()).collect();
    match replace {
        None => request = request.set_tags(Some(acm_tags.clone())),
        Some(arn) => request = request.certificate_arn(arn),
    }
    clients.count("acm:ImportCertificate");
    let response = request.send().await.map_err(|e| error("ImportCertificate", e))?;
    let arn = response.certificate_arn().unwrap_or_default().to_string();
    if replace.is_some() {
        // A re-import cannot carry tags: the new fingerprint (and, for implementations that drop
        // tags on re-import, the ownership tags) are set again in one call.
        clients.count("acm:AddTagsToCertificate");
        clients.acm.add_tags_to_certificate().certificate_arn(&arn).set_tags(Some(acm_tags)).send().await.map_err(|e| error("AddTagsToCertificate", e))?;
    }
    Ok(arn)
}
