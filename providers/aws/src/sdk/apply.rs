//! Execute a plan in order. ARNs of existing resources come from the observation, those of new
//! ones are recorded as they are created. Every call is counted; a failure stops the plan (the
//! next reconcile observes again and finishes the job, with no duplicate thanks to
//! deterministic names). Deleting something already gone counts as done.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types as elb;
use portico_model::ir::{Address, ObjectRef};
use portico_provider::{Applied, ProviderError};

use super::{Clients, code_of, convert, error};
use crate::native::{Action, CertificateRef, HealthCheckSpec, Listener, LoadBalancer, MANAGED_SECURITY_GROUP, Role, TargetGroup};
use crate::params::AWSLoadBalancerParametersSpec;
use crate::plan::{Plan, Step};

mod network;

/// What a plan needs besides its steps.
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub pems: &'a BTreeMap<ObjectRef, Vec<u8>>,
    pub params: &'a AWSLoadBalancerParametersSpec,
    /// Stop (as if the process died) after this many steps: for crash tests.
    pub stop_after: Option<usize>,
}

/// ARNs and IDs by what they are.
#[derive(Default)]
struct Resolver {
    load_balancers: BTreeMap<Role, (String, String, String)>,
    listeners: BTreeMap<(Role, u16), String>,
    groups: BTreeMap<String, String>,
    certificates: BTreeMap<ObjectRef, String>,
    security_group: Option<String>,
    vpc: Option<(String, Vec<String>)>,
}

impl Resolver {
    /// An action with its target group names resolved to ARNs.
    fn action(&self, action: &Action) -> Result<elb::Action, ProviderError> {
        convert::action(action, &|n| self.groups.get(n).cloned()).map_err(|m| missing(&m))
    }

    fn from_plan(plan: &Plan) -> Resolver {
        let o = &plan.observed;
        Resolver {
            load_balancers: o.load_balancers.iter().map(|(r, lb)| (*r, (lb.arn.clone(), lb.dns_name.clone(), lb.state.clone()))).collect(),
            listeners: o.load_balancers.iter().flat_map(|(r, lb)| lb.listeners.iter().map(move |(p, l)| ((*r, *p), l.arn.clone()))).collect(),
            groups: o.target_groups.iter().map(|(n, g)| (n.clone(), g.arn.clone())).collect(),
            certificates: o.certificates.iter().map(|(s, c)| (s.clone(), c.arn.clone())).collect(),
            security_group: o.security_group.as_ref().map(|s| s.id.clone()),
            vpc: None,
        }
    }

    fn certificate(&self, reference: &CertificateRef) -> Result<String, ProviderError> {
        match reference {
            CertificateRef::Arn(arn) => Ok(arn.clone()),
            CertificateRef::Secret(s) => self.certificates.get(s).cloned().ok_or_else(|| missing(&format!("certificate for Secret {s}"))),
        }
    }

    fn listener(&self, role: Role, port: u16) -> Result<String, ProviderError> {
        self.listeners.get(&(role, port)).cloned().ok_or_else(|| missing(&format!("{} listener on port {port}", role.aws_type())))
    }

    fn load_balancer(&self, role: Role) -> Result<String, ProviderError> {
        self.load_balancers.get(&role).map(|l| l.0.clone()).ok_or_else(|| missing(&format!("{} load balancer", role.aws_type())))
    }
}

fn missing(what: &str) -> ProviderError {
    ProviderError::Transient { platform: "AWS".into(), operation: "apply".into(), message: format!("{what} is not known yet") }
}

pub async fn apply(clients: &Clients, inputs: Inputs<'_>) -> Result<Applied, ProviderError> {
    let mut resolver = Resolver::from_plan(inputs.plan);
    let mut done = 0;
    for wave in waves(&inputs.plan.steps) {
        let allowed = inputs.stop_after.map_or(wave.len(), |stop| stop.saturating_sub(done).min(wave.len()));
        match &wave[..allowed] {
            [] => {}
            [step] => {
                tracing::debug!(?step, "aws step");
                run(clients, &inputs, &mut resolver, step).await?;
            }
            steps => run_together(clients, &inputs, &mut resolver, steps).await?,
        }
        done += allowed;
        if allowed < wave.len() {
            return Err(ProviderError::Transient { platform: "AWS".into(), operation: "apply".into(), message: format!("interrupted after {done} steps") });
        }
    }
    wait_until_active(clients, &inputs, &mut resolver).await
}

/// Steps that may run at once with others of their kind: each changes its own resource (a
/// target group, its targets, one rule at its own priority) and reads only ARNs known before.
fn concurrent_kind(step: &Step) -> Option<u8> {
    match step {
        Step::CreateTargetGroup { .. } => Some(0),
        Step::RegisterTargets { .. } => Some(1),
        Step::DeregisterTargets { .. } => Some(2),
        Step::CreateRule { .. } => Some(3),
        Step::ModifyRule { .. } => Some(4),
        Step::DeleteRule { .. } => Some(5),
        _ => None,
    }
}

/// The plan's steps in waves: a run of consecutive steps of one concurrent kind is one wave, any
/// other step is a wave of its own. The plan's order between waves is kept.
pub fn waves(steps: &[Step]) -> Vec<&[Step]> {
    let mut waves = Vec::new();
    let mut start = 0;
    for end in 1..=steps.len() {
        let kind = concurrent_kind(&steps[start]);
        if end == steps.len() || kind.is_none() || concurrent_kind(&steps[end]) != kind {
            waves.push(&steps[start..end]);
            start = end;
        }
    }
    waves
}

/// One wave of independent steps, at most `concurrent_calls` at a time. Every step runs even
/// if one fails (target groups created are recorded); the first failure is returned.
async fn run_together(clients: &Clients, inputs: &Inputs<'_>, resolver: &mut Resolver, steps: &[Step]) -> Result<(), ProviderError> {
    use futures_util::FutureExt as _;
    use portico_provider::BoxFuture;
    tracing::debug!(steps = steps.len(), first = ?steps[0], "aws steps together");
    if matches!(steps[0], Step::CreateTargetGroup { .. }) {
        let vpc = network::vpc(clients, inputs.params, &mut resolver.vpc).await?;
        let groups = steps.iter().filter_map(|step| match step {
            Step::CreateTargetGroup { group } => Some(group),
            _ => None,
        });
        let calls: Vec<BoxFuture<'_, (String, Result<String, ProviderError>)>> =
            groups.map(|group| create_target_group(clients, group, &vpc).map(|arn| (group.name.clone(), arn)).boxed()).collect();
        let created = portico_provider::calls::bounded(calls, clients.concurrent_calls).await;
        let mut failed = None;
        for (name, arn) in created {
            match arn {
                Ok(arn) => _ = resolver.groups.insert(name, arn),
                Err(error) => _ = failed.get_or_insert(error),
            }
        }
        return failed.map_or(Ok(()), Err);
    }
    let known: &Resolver = resolver;
    let calls: Vec<BoxFuture<'_, Result<(), ProviderError>>> = steps.iter().map(|step| run_shared(clients, known, step).boxed()).collect();
    portico_provider::calls::bounded(calls, clients.concurrent_calls).await.into_iter().collect()
}

async fn run(clients: &Clients, inputs: &Inputs<'_>, resolver: &mut Resolver, step: &Step) -> Result<(), ProviderError> {
    match step {
        Step::ImportCertificate { secret, fingerprint, tags, replace_arn } => {
            let pem = inputs.pems.get(secret).ok_or_else(|| missing(&format!("certificate material of Secret {secret}")))?;
            let arn = network::import_certificate(clients, pem, fingerprint, tags, replace_arn.as_deref()).await?;
            resolver.certificates.insert(secret.clone(), arn);
        }
        Step::CreateSecurityGroup { name, tags } => {
            let vpc = network::vpc(clients, inputs.params, &mut resolver.vpc).await?;
            resolver.security_group = Some(network::create_security_group(clients, name, &vpc, tags).await?);
        }
        Step::AuthorizeIngress { permissions } | Step::RevokeIngress { permissions } => {
            let id = resolver.security_group.clone().ok_or_else(|| missing("security group"))?;
            network::ingress(clients, &id, permissions, matches!(step, Step::AuthorizeIngress { .. })).await?;
        }
        Step::CreateTargetGroup { group } => {
            let vpc = network::vpc(clients, inputs.params, &mut resolver.vpc).await?;
            let arn = create_target_group(clients, group, &vpc).await?;
            resolver.groups.insert(group.name.clone(), arn);
        }
        Step::ModifyTargetGroup { name, protocol_version, health_check } => {
            let arn = resolver.groups.get(name).ok_or_else(|| missing(name))?;
            modify_target_group(clients, arn, protocol_version.as_deref(), health_check).await?
        }
        Step::CreateLoadBalancer { role, load_balancer } => {
            let created = create_load_balancer(clients, inputs, resolver, *role, load_balancer).await?;
            resolver.load_balancers.insert(*role, created);
        }
        Step::SetSecurityGroups { role, security_groups } => {
            clients.count("elbv2:SetSecurityGroups");
            let groups = security_groups
                .iter()
                .map(|g| if g == MANAGED_SECURITY_GROUP { resolver.security_group.clone().unwrap_or_default() } else { g.clone() })
                .collect();
            clients
                .elb
                .set_security_groups()
                .load_balancer_arn(resolver.load_balancer(*role)?)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(|e| error("SetSecurityGroups", e))?;
        }
        Step::SetSubnets { role, subnets } => {
            clients.count("elbv2:SetSubnets");
            clients
                .elb
                .set_subnets()
                .load_balancer_arn(resolver.load_balancer(*role)?)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .map_err(|e| error("SetSubnets", e))?;
        }
        Step::ModifyLoadBalancerAttributes { role, attributes } => modify_attributes(clients, &resolver.load_balancer(*role)?, attributes).await?,
        Step::CreateListener { role, listener } => {
            let arn = create_listener(clients, resolver, *role, listener).await?;
            resolver.listeners.insert((*role, listener.port), arn);
        }
        Step::ModifyListener { role, listener } => modify_listener(clients, resolver, *role, listener).await?,
        Step::AddListenerCertificates { role, port, certificates } | Step::RemoveListenerCertificates { role, port, certificates } => {
            let arns = certificates.iter().map(|c| resolver.certificate(c)).collect::<Result<Vec<_>, _>>()?;
            listener_certificates(clients, &resolver.listener(*role, *port)?, arns, matches!(step, Step::AddListenerCertificates { .. })).await?;
        }
        Step::DeleteRule { .. } | Step::ModifyRule { .. } | Step::CreateRule { .. } | Step::RegisterTargets { .. } | Step::DeregisterTargets { .. } => {
            run_shared(clients, resolver, step).await?
        }
        Step::SetRulePriorities { priorities } => {
            clients.count("elbv2:SetRulePriorities");
            let pairs = priorities.iter().map(|(arn, p)| elb::RulePriorityPair::builder().rule_arn(arn).priority(*p).build()).collect();
            clients.elb.set_rule_priorities().set_rule_priorities(Some(pairs)).send().await.map_err(|e| error("SetRulePriorities", e))?;
        }
        _ => delete(clients, step).await?,
    }
    Ok(())
}

/// The steps that read only what is resolved already: rules and targets.
async fn run_shared(clients: &Clients, resolver: &Resolver, step: &Step) -> Result<(), ProviderError> {
    match step {
        Step::DeleteRule { arn } => {
            clients.count("elbv2:DeleteRule");
            ignore_missing(clients.elb.delete_rule().rule_arn(arn).send().await, "DeleteRule", &["RuleNotFound"])?;
        }
        Step::ModifyRule { arn, rule } => {
            clients.count("elbv2:ModifyRule");
            let action = resolver.action(&rule.action)?;
            let conditions = rule.conditions.iter().map(convert::condition).collect();
            let mut request = clients.elb.modify_rule().rule_arn(arn).set_conditions(Some(conditions)).actions(action);
            if !rule.transforms.is_empty() {
                request = request.set_transforms(Some(rule.transforms.iter().map(convert::transform).collect()));
            }
            request.send().await.map_err(|e| error("ModifyRule", e))?;
        }
        Step::CreateRule { role, port, priority, rule } => {
            clients.count("elbv2:CreateRule");
            let action = resolver.action(&rule.action)?;
            let conditions = rule.conditions.iter().map(convert::condition).collect();
            let mut request =
                clients.elb.create_rule().listener_arn(resolver.listener(*role, *port)?).priority(*priority).set_conditions(Some(conditions)).actions(action);
            if !rule.transforms.is_empty() {
                request = request.set_transforms(Some(rule.transforms.iter().map(convert::transform).collect()));
            }
            request.send().await.map_err(|e| error("CreateRule", e))?;
        }
        Step::RegisterTargets { name, targets } | Step::DeregisterTargets { name, targets } => {
            let arn = resolver.groups.get(name).ok_or_else(|| missing(name))?;
            register(clients, arn, targets, matches!(step, Step::RegisterTargets { .. })).await?;
        }
        _ => {
            let message = format!("internal error: {step:?} is not a rule or target step");
            return Err(ProviderError::Rejected { platform: "AWS".into(), operation: "apply".into(), message });
        }
    }
    Ok(())
}

/// Deletes: a resource that is already gone is fine.
async fn delete(clients: &Clients, step: &Step) -> Result<(), ProviderError> {
    match step {
        Step::DeleteListener { arn } => {
            clients.count("elbv2:DeleteListener");
            ignore_missing(clients.elb.delete_listener().listener_arn(arn).send().await, "DeleteListener", &["ListenerNotFound"])
        }
        Step::DeleteLoadBalancer { arn, .. } => {
            clients.count("elbv2:DeleteLoadBalancer");
            ignore_missing(clients.elb.delete_load_balancer().load_balancer_arn(arn).send().await, "DeleteLoadBalancer", &["LoadBalancerNotFound"])
        }
        Step::DeleteTargetGroup { arn, .. } => {
            clients.count("elbv2:DeleteTargetGroup");
            ignore_missing(clients.elb.delete_target_group().target_group_arn(arn).send().await, "DeleteTargetGroup", &["TargetGroupNotFound"])
        }
        Step::DeleteCertificate { arn, .. } => {
            clients.count("acm:DeleteCertificate");
            ignore_missing(clients.acm.delete_certificate().certificate_arn(arn).send().await, "DeleteCertificate", &["ResourceNotFoundException"])
        }
        Step::DeleteSecurityGroup { id } => {
            clients.count("ec2:DeleteSecurityGroup");
            ignore_missing(clients.ec2.delete_security_group().group_id(id).send().await, "DeleteSecurityGroup", &["InvalidGroup.NotFound"])
        }
        other => Err(ProviderError::Rejected { platform: "AWS".into(), operation: "apply".into(), message: format!("unexpected step {other:?}") }),
    }
}

fn ignore_missing<T, E>(result: Result<T, super::SdkError<E>>, operation: &str, gone: &[&str]) -> Result<(), ProviderError>
where
    E: aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e).is_some_and(|c| gone.contains(&c)) => Ok(()),
        Err(e) => Err(error(operation, e)),
    }
}

fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<elb::Tag> {
    tags.iter().map(|(k, v)| elb::Tag::builder().key(k).value(v).build()).collect()
}

fn matcher(group_version: Option<&str>, codes: Option<&String>) -> Option<elb::Matcher> {
    let codes = codes?;
    Some(if group_version == Some("GRPC") { elb::Matcher::builder().grpc_code(codes).build() } else { elb::Matcher::builder().http_code(codes).build() })
}

async fn create_target_group(clients: &Clients, group: &TargetGroup, vpc: &str) -> Result<String, ProviderError> {
    clients.count("elbv2:CreateTargetGroup");
    let hc = &group.health_check;
    let response = clients
        .elb
        .create_target_group()
        .name(&group.name)
        .protocol(elb::ProtocolEnum::from(group.protocol.as_str()))
        .set_protocol_version(group.protocol_version.clone())
        .port(i32::from(group.port))
        .vpc_id(vpc)
        .target_type(elb::TargetTypeEnum::Ip)
        .health_check_protocol(elb::ProtocolEnum::from(hc.protocol.as_str()))
        .health_check_port(&hc.port)
        .set_health_check_path(hc.path.clone())
        .health_check_interval_seconds(hc.interval_seconds)
        .health_check_timeout_seconds(hc.timeout_seconds)
        .healthy_threshold_count(hc.healthy_threshold)
        .unhealthy_threshold_count(hc.unhealthy_threshold)
        .set_matcher(matcher(group.protocol_version.as_deref(), hc.success_codes.as_ref()))
        .set_tags(Some(elb_tags(&group.tags)))
        .send()
        .await
        .map_err(|e| error("CreateTargetGroup", e))?;
    Ok(response.target_groups().first().and_then(|g| g.target_group_arn()).unwrap_or_default().to_string())
}

async fn modify_target_group(clients: &Clients, arn: &str, protocol_version: Option<&str>, hc: &HealthCheckSpec) -> Result<(), ProviderError> {
    clients.count("elbv2:ModifyTargetGroup");
    clients
        .elb
        .modify_target_group()
        .target_group_arn(arn)
        .health_check_protocol(elb::ProtocolEnum::from(hc.protocol.as_str()))
        .health_check_port(&hc.port)
        .set_health_check_path(hc.path.clone())
        .health_check_interval_seconds(hc.interval_seconds)
        .health_check_timeout_seconds(hc.timeout_seconds)
        .healthy_threshold_count(hc.healthy_threshold)
        .unhealthy_threshold_count(hc.unhealthy_threshold)
        .set_matcher(matcher(protocol_version, hc.success_codes.as_ref()))
        .send()
        .await
        .map_err(|e| error("ModifyTargetGroup", e))?;
    Ok(())
}

async fn create_load_balancer(
    clients: &Clients,
    inputs: &Inputs<'_>,
    resolver: &mut Resolver,
    role: Role,
    lb: &LoadBalancer,
) -> Result<(String, String, String), ProviderError> {
    let subnets = if lb.subnets.is_empty() { network::vpc_and_subnets(clients, inputs.params, &mut resolver.vpc).await?.1 } else { lb.subnets.clone() };
    let mut groups = Vec::new();
    for group in &lb.security_groups {
        groups.push(if group == MANAGED_SECURITY_GROUP {
            resolver.security_group.clone().ok_or_else(|| missing("managed security group"))?
        } else {
            group.clone()
        });
    }
    clients.count("elbv2:CreateLoadBalancer");
    let response = clients
        .elb
        .create_load_balancer()
        .name(&lb.name)
        .r#type(elb::LoadBalancerTypeEnum::from(role.aws_type()))
        .scheme(elb::LoadBalancerSchemeEnum::from(lb.scheme.as_str()))
        .ip_address_type(elb::IpAddressType::from(lb.ip_address_type.as_str()))
        .set_subnets(Some(subnets))
        .set_security_groups(Some(groups))
        .set_tags(Some(elb_tags(&lb.tags)))
        .send()
        .await
        .map_err(|e| error("CreateLoadBalancer", e))?;
    let created = response.load_balancers().first().ok_or_else(|| missing("created load balancer"))?;
    let arn = created.load_balancer_arn().unwrap_or_default().to_string();
    if !lb.attributes.is_empty() {
        modify_attributes(clients, &arn, &lb.attributes).await?;
    }
    let state = created.state().and_then(|s| s.code()).map_or("provisioning".into(), |c| c.as_str().to_string());
    Ok((arn, created.dns_name().unwrap_or_default().to_string(), state))
}

async fn modify_attributes(clients: &Clients, arn: &str, attributes: &BTreeMap<String, String>) -> Result<(), ProviderError> {
    clients.count("elbv2:ModifyLoadBalancerAttributes");
    let attributes = attributes.iter().map(|(k, v)| elb::LoadBalancerAttribute::builder().key(k).value(v).build()).collect();
    clients
        .elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| error("ModifyLoadBalancerAttributes", e))?;
    Ok(())
}

fn default_certificate(resolver: &Resolver, listener: &Listener) -> Result<Option<Vec<elb::Certificate>>, ProviderError> {
    let Some(first) = listener.certificates.first() else { return Ok(None) };
    Ok(Some(vec![elb::Certificate::builder().certificate_arn(resolver.certificate(first)?).build()]))
}

async fn create_listener(clients: &Clients, resolver: &Resolver, role: Role, listener: &Listener) -> Result<String, ProviderError> {
    let action = resolver.action(&listener.default_action)?;
    clients.count("elbv2:CreateListener");
    let response = clients
        .elb
        .create_listener()
        .load_balancer_arn(resolver.load_balancer(role)?)
        .port(i32::from(listener.port))
        .protocol(elb::ProtocolEnum::from(listener.protocol.as_str()))
        .set_ssl_policy(listener.ssl_policy.clone())
        .set_certificates(default_certificate(resolver, listener)?)
        .default_actions(action)
        .send()
        .await
        .map_err(|e| error("CreateListener", e))?;
    let arn = response.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_string();
    let extra = listener.certificates.iter().skip(1).map(|c| resolver.certificate(c)).collect::<Result<Vec<_>, _>>()?;
    if !extra.is_empty() {
        listener_certificates(clients, &arn, extra, true).await?;
    }
    Ok(arn)
}

async fn modify_listener(clients: &Clients, resolver: &Resolver, role: Role, listener: &Listener) -> Result<(), ProviderError> {
    let action = resolver.action(&listener.default_action)?;
    clients.count("elbv2:ModifyListener");
    clients
        .elb
        .modify_listener()
        .listener_arn(resolver.listener(role, listener.port)?)
        .port(i32::from(listener.port))
        .protocol(elb::ProtocolEnum::from(listener.protocol.as_str()))
        .set_ssl_policy(listener.ssl_policy.clone())
        .set_certificates(default_certificate(resolver, listener)?)
        .default_actions(action)
        .send()
        .await
        .map_err(|e| error("ModifyListener", e))?;
    Ok(())
}

async fn listener_certificates(clients: &Clients, listener: &str, arns: Vec<String>, add: bool) -> Result<(), ProviderError> {
    let certificates = arns.into_iter().map(|a| elb::Certificate::builder().certificate_arn(a).build()).collect();
    if add {
        clients.count("elbv2:AddListenerCertificates");
        clients
            .elb
            .add_listener_certificates()
            .listener_arn(listener)
            .set_certificates(Some(certificates))
            .send()
            .await
            .map_err(|e| error("AddListenerCertificates", e))?;
    } else {
        clients.count("elbv2:RemoveListenerCertificates");
        clients
            .elb
            .remove_listener_certificates()
            .listener_arn(listener)
            .set_certificates(Some(certificates))
            .send()
            .await
            .map_err(|e| error("RemoveListenerCertificates", e))?;
    }
    Ok(())
}

async fn register(clients: &Clients, group: &str, targets: &[(String, u16)], add: bool) -> Result<(), ProviderError> {
    let targets: Vec<elb::TargetDescription> =
        targets.iter().map(|(ip, port)| elb::TargetDescription::builder().id(ip).port(i32::from(*port)).build()).collect();
    for chunk in targets.chunks(500) {
        if add {
            clients.count("elbv2:RegisterTargets");
            clients.elb.register_targets().target_group_arn(group).set_targets(Some(chunk.to_vec())).send().await.map_err(|e| error("RegisterTargets", e))?;
        } else {
            clients.count("elbv2:DeregisterTargets");
            clients
                .elb
                .deregister_targets()
                .target_group_arn(group)
                .set_targets(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| error("DeregisterTargets", e))?;
        }
    }
    Ok(())
}

/// Poll new or provisioning load balancers with a short backoff (0.2 s doubling to 2 s, about
/// 20 s in all); the Gateway is ready once every one is active.
async fn wait_until_active(clients: &Clients, inputs: &Inputs<'_>, resolver: &mut Resolver) -> Result<Applied, ProviderError> {
    let mut ready = true;
    let mut addresses = Vec::new();
    for role in inputs.plan.desired.load_balancers.keys() {
        let Some((arn, dns, state)) = resolver.load_balancers.get(role).cloned() else { continue };
        let mut state = state;
        let mut delay = Duration::from_millis(200);
        let mut waited = Duration::ZERO;
        while state != "active" && waited < Duration::from_secs(20) {
            tokio::time::sleep(delay).await;
            waited += delay;
            delay = (delay * 2).min(Duration::from_secs(2));
            clients.count("elbv2:DescribeLoadBalancers");
            let response = clients.elb.describe_load_balancers().load_balancer_arns(&arn).send().await.map_err(|e| error("DescribeLoadBalancers", e))?;
            state = response.load_balancers().first().and_then(|l| l.state()).and_then(|s| s.code()).map_or("active".into(), |c| c.as_str().to_string());
            if state == "failed" {
                return Err(ProviderError::Rejected {
                    platform: "AWS".into(),
                    operation: "CreateLoadBalancer".into(),
                    message: format!("load balancer {arn} failed to provision"),
                });
            }
        }
        ready &= state == "active";
        addresses.push(Address { address_type: "Hostname".into(), value: dns });
    }
    Ok(Applied { addresses, ready, ..Applied::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_group_runs_of_one_independent_kind_and_keep_everything_else_alone() {
        let delete_rule = |arn: &str| Step::DeleteRule { arn: arn.into() };
        let register = |name: &str| Step::RegisterTargets { name: name.into(), targets: vec![("10.0.0.1".into(), 80)] };
        let steps = vec![
            register("a"),
            register("b"),
            Step::DeregisterTargets { name: "a".into(), targets: Vec::new() },
            delete_rule("r1"),
            delete_rule("r2"),
            Step::SetRulePriorities { priorities: Vec::new() },
            Step::DeleteListener { arn: "l1".into() },
            Step::DeleteListener { arn: "l2".into() },
            delete_rule("r3"),
        ];
        let sizes: Vec<usize> = waves(&steps).iter().map(|w| w.len()).collect();
        assert_eq!(sizes, [2, 1, 2, 1, 1, 1, 1], "listeners, priorities and the like run alone, in order");
        assert!(matches!(waves(&steps)[6][0], Step::DeleteRule { ref arn } if arn == "r3"));
        assert!(waves(&[]).is_empty());
    }
}
