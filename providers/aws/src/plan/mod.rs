//! Pure: the ordered AWS changes that turn what was observed into the compiled native model.
//! Creates and updates run first (certificates, security group, target groups, load balancers,
//! listeners, rules, targets), deletes last in reverse dependency order, so traffic never points
//! at something already gone. An empty plan makes no AWS call at all.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::ObjectRef;
use serde::Serialize;

use crate::native::*;
use crate::observed::{Observed, ObservedListener, ObservedLoadBalancer};

/// One AWS change. Targets are named by role/port/name; apply resolves ARNs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Step {
    ImportCertificate {
        secret: ObjectRef,
        fingerprint: String,
        tags: BTreeMap<String, String>,
        replace_arn: Option<String>,
    },
    CreateSecurityGroup {
        name: String,
        tags: BTreeMap<String, String>,
    },
    AuthorizeIngress {
        permissions: Vec<(String, u16, String)>,
    },
    RevokeIngress {
        permissions: Vec<(String, u16, String)>,
    },
    CreateTargetGroup {
        group: TargetGroup,
    },
    /// `protocol_version` (`GRPC` for gRPC groups) decides how success codes are sent.
    ModifyTargetGroup {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol_version: Option<String>,
        health_check: HealthCheckSpec,
    },
    CreateLoadBalancer {
        role: Role,
        load_balancer: LoadBalancer,
    },
    SetSecurityGroups {
        role: Role,
        security_groups: Vec<String>,
    },
    SetSubnets {
        role: Role,
        subnets: Vec<String>,
    },
    ModifyLoadBalancerAttributes {
        role: Role,
        attributes: BTreeMap<String, String>,
    },
    CreateListener {
        role: Role,
        listener: Listener,
    },
    ModifyListener {
        role: Role,
        listener: Listener,
    },
    AddListenerCertificates {
        role: Role,
        port: u16,
        certificates: Vec<CertificateRef>,
    },
    RemoveListenerCertificates {
        role: Role,
        port: u16,
        certificates: Vec<CertificateRef>,
    },
    DeleteRule {
        arn: String,
    },
    ModifyRule {
        arn: String,
        rule: Rule,
    },
    SetRulePriorities {
        priorities: Vec<(String, i32)>,
    },
    CreateRule {
        role: Role,
        port: u16,
        priority: i32,
        rule: Rule,
    },
    RegisterTargets {
        name: String,
        targets: Vec<(String, u16)>,
    },
    DeregisterTargets {
        name: String,
        targets: Vec<(String, u16)>,
    },
    DeleteListener {
        arn: String,
    },
    DeleteLoadBalancer {
        role: Role,
        arn: String,
    },
    DeleteTargetGroup {
        name: String,
        arn: String,
    },
    DeleteCertificate {
        secret: ObjectRef,
        arn: String,
    },
    DeleteSecurityGroup {
        id: String,
    },
}

impl Step {
    /// Whether the step is a delete (they run last).
    pub fn is_delete(&self) -> bool {
        matches!(
            self,
            Step::DeleteListener { .. }
                | Step::DeleteLoadBalancer { .. }
                | Step::DeleteTargetGroup { .. }
                | Step::DeleteCertificate { .. }
                | Step::DeleteSecurityGroup { .. }
        )
    }
}

/// The changes for one Gateway, with what apply needs to resolve names to ARNs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub observed: Observed,
    #[serde(skip)]
    pub desired: NativeGateway,
}

/// Diff `desired` (`None`: remove everything) against `observed`.
pub fn plan(desired: Option<&NativeGateway>, observed: &Observed) -> Plan {
    let empty = NativeGateway::default();
    let want = desired.unwrap_or(&empty);
    let mut steps = Vec::new();
    certificates(want, observed, &mut steps);
    security_group(want, observed, &mut steps);
    target_groups(want, observed, &mut steps);
    for (role, lb) in &want.load_balancers {
        load_balancer(*role, lb, observed, &mut steps);
    }
    targets(want, observed, &mut steps);
    deletes(want, observed, &mut steps);
    Plan { steps, observed: observed.clone(), desired: want.clone() }
}

fn certificates(want: &NativeGateway, observed: &Observed, steps: &mut Vec<Step>) {
    for (secret, cert) in &want.certificates {
        let existing = observed.certificates.get(secret);
        if existing.is_none_or(|e| e.fingerprint != cert.fingerprint) {
            steps.push(Step::ImportCertificate {
                secret: secret.clone(),
                fingerprint: cert.fingerprint.clone(),
                tags: cert.tags.clone(),
                replace_arn: existing.map(|e| e.arn.clone()),
            });
        }
    }
}

fn security_group(want: &NativeGateway, observed: &Observed, steps: &mut Vec<Step>) {
    let Some(sg) = &want.security_group else { return };
    let have: BTreeSet<(String, u16, String)> = observed.security_group.as_ref().map(|s| s.ingress.clone()).unwrap_or_default();
    if observed.security_group.is_none() {
        steps.push(Step::CreateSecurityGroup { name: sg.name.clone(), tags: sg.tags.clone() });
    }
    let add: Vec<_> = sg.ingress.difference(&have).cloned().collect();
    let remove: Vec<_> = have.difference(&sg.ingress).cloned().collect();
    if !add.is_empty() {
        steps.push(Step::AuthorizeIngress { permissions: add });
    }
    if !remove.is_empty() {
        steps.push(Step::RevokeIngress { permissions: remove });
    }
}

fn target_groups(want: &NativeGateway, observed: &Observed, steps: &mut Vec<Step>) {
    for (name, group) in &want.target_groups {
        match observed.target_groups.get(name) {
            None => steps.push(Step::CreateTargetGroup { group: group.clone() }),
            Some(have) if have.health_check != group.health_check => steps.push(Step::ModifyTargetGroup {
                name: name.clone(),
                protocol_version: group.protocol_version.clone(),
                health_check: group.health_check.clone(),
            }),
            Some(_) => {}
        }
    }
}

/// Targets are registered after the rules that use them exist, and deregistered in the same pass.
fn targets(want: &NativeGateway, observed: &Observed, steps: &mut Vec<Step>) {
    for (name, group) in &want.target_groups {
        let have = observed.target_groups.get(name).map(|g| g.targets.clone()).unwrap_or_default();
        let add: Vec<_> = group.targets.difference(&have).cloned().collect();
        let remove: Vec<_> = have.difference(&group.targets).cloned().collect();
        if !add.is_empty() {
            steps.push(Step::RegisterTargets { name: name.clone(), targets: add });
        }
        if !remove.is_empty() {
            steps.push(Step::DeregisterTargets { name: name.clone(), targets: remove });
        }
    }
}

/// A load balancer that cannot be changed in place (scheme, type) is replaced.
fn replaceable(lb: &LoadBalancer, have: &ObservedLoadBalancer) -> bool {
    lb.scheme != have.scheme || lb.ip_address_type != have.ip_address_type
}

fn load_balancer(role: Role, lb: &LoadBalancer, observed: &Observed, steps: &mut Vec<Step>) {
    let have = observed.load_balancers.get(&role).filter(|h| !replaceable(lb, h));
    let Some(have) = have else {
        if let Some(old) = observed.load_balancers.get(&role) {
            steps.push(Step::DeleteLoadBalancer { role, arn: old.arn.clone() });
        }
        let mut bare = lb.clone();
        bare.listeners.clear();
        steps.push(Step::CreateLoadBalancer { role, load_balancer: bare });
        for listener in lb.listeners.values() {
            listener_steps(role, listener, None, steps);
        }
        return;
    };
    let wanted_sgs: Vec<String> = lb.security_groups.iter().map(|s| resolve_sg(s, observed)).collect();
    if sorted(&wanted_sgs) != sorted(&have.security_groups) {
        steps.push(Step::SetSecurityGroups { role, security_groups: lb.security_groups.clone() });
    }
    // Discovered subnets are chosen when the load balancer is created and then left alone.
    if !lb.subnets.is_empty() && sorted(&lb.subnets) != sorted(&have.subnets) {
        steps.push(Step::SetSubnets { role, subnets: lb.subnets.clone() });
    }
    let changed: BTreeMap<String, String> =
        lb.attributes.iter().filter(|(k, v)| have.attributes.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !changed.is_empty() {
        steps.push(Step::ModifyLoadBalancerAttributes { role, attributes: changed });
    }
    for (port, listener) in &lb.listeners {
        listener_steps(role, listener, have.listeners.get(port), steps);
    }
}

fn resolve_sg(sg: &str, observed: &Observed) -> String {
    match (sg, &observed.security_group) {
        (MANAGED_SECURITY_GROUP, Some(have)) => have.id.clone(),
        _ => sg.to_string(),
    }
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items
}

fn listener_steps(role: Role, listener: &Listener, have: Option<&ObservedListener>, steps: &mut Vec<Step>) {
    let Some(have) = have else {
        let mut bare = listener.clone();
        bare.rules.clear();
        steps.push(Step::CreateListener { role, listener: bare });
        for (priority, rule) in rules::diff(&listener.rules, &[]).create {
            steps.push(Step::CreateRule { role, port: listener.port, priority, rule });
        }
        return;
    };
    let default_cert = |certs: &[CertificateRef]| certs.first().cloned();
    if have.protocol != listener.protocol
        || have.ssl_policy != listener.ssl_policy
        || have.default_action != listener.default_action
        || default_cert(&have.certificates) != default_cert(&listener.certificates)
    {
        let mut bare = listener.clone();
        bare.rules.clear();
        steps.push(Step::ModifyListener { role, listener: bare });
    }
    let extra = |certs: &[CertificateRef]| certs.iter().skip(1).cloned().collect::<BTreeSet<_>>();
    let (want_extra, have_extra) = (extra(&listener.certificates), extra(&have.certificates));
    let add: Vec<_> = want_extra.difference(&have_extra).cloned().collect();
    let remove: Vec<_> = have_extra.difference(&want_extra).cloned().collect();
    if !add.is_empty() {
        steps.push(Step::AddListenerCertificates { role, port: listener.port, certificates: add });
    }
    let mut changes = rules::diff(&listener.rules, &have.rules);
    // ModifyRule cannot remove transforms: such a rule is replaced at the same priority.
    let (replace, modify): (Vec<_>, Vec<_>) = changes
        .modify
        .into_iter()
        .partition(|(arn, rule)| rule.transforms.is_empty() && have.rules.iter().any(|o| o.arn == *arn && !o.rule.transforms.is_empty()));
    changes.modify = modify;
    for (arn, rule) in replace {
        let priority = have.rules.iter().find(|o| o.arn == arn).map_or(0, |o| o.priority);
        steps.push(Step::DeleteRule { arn });
        changes.create.push((priority, rule));
    }
    changes.create.sort_by_key(|(priority, _)| *priority);
    steps.extend(changes.delete.into_iter().map(|r| Step::DeleteRule { arn: r.arn }));
    steps.extend(changes.modify.into_iter().map(|(arn, rule)| Step::ModifyRule { arn, rule }));
    if !changes.reprioritize.is_empty() {
        steps.push(Step::SetRulePriorities { priorities: changes.reprioritize });
    }
    steps.extend(changes.create.into_iter().map(|(priority, rule)| Step::CreateRule { role, port: listener.port, priority, rule }));
    if !remove.is_empty() {
        steps.push(Step::RemoveListenerCertificates { role, port: listener.port, certificates: remove });
    }
}

/// Everything observed that the desired model no longer has, in reverse dependency order:
/// listeners, load balancers, target groups, certificates, the security group.
fn deletes(want: &NativeGateway, observed: &Observed, steps: &mut Vec<Step>) {
    for (role, have) in &observed.load_balancers {
        match want.load_balancers.get(role) {
            None => steps.push(Step::DeleteLoadBalancer { role: *role, arn: have.arn.clone() }),
            Some(lb) if replaceable(lb, have) => {}
            Some(lb) => {
                for (port, listener) in &have.listeners {
                    if !lb.listeners.contains_key(port) {
                        steps.push(Step::DeleteListener { arn: listener.arn.clone() });
                    }
                }
            }
        }
    }
    for (name, have) in &observed.target_groups {
        if !want.target_groups.contains_key(name) {
            steps.push(Step::DeleteTargetGroup { name: name.clone(), arn: have.arn.clone() });
        }
    }
    for (secret, have) in &observed.certificates {
        if !want.certificates.contains_key(secret) {
            steps.push(Step::DeleteCertificate { secret: secret.clone(), arn: have.arn.clone() });
        }
    }
    if let (None, Some(have)) = (&want.security_group, &observed.security_group) {
        steps.push(Step::DeleteSecurityGroup { id: have.id.clone() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{ObservedListener, ObservedRule};

    fn rule(transforms: Vec<Transform>) -> Rule {
        Rule { conditions: vec![Condition::Path { values: vec!["/a".into()], regex: vec![] }], action: Action::fixed(404, "x"), transforms, routes: vec![] }
    }

    #[test]
    fn a_rule_losing_its_transforms_is_replaced_at_its_priority() {
        let old = rule(vec![Transform::UrlRewrite { regex: "^.*$".into(), replace: "/b".into() }]);
        let have = ObservedListener {
            arn: "listener".into(),
            protocol: "HTTP".into(),
            ssl_policy: None,
            certificates: vec![],
            default_action: Action::fixed(404, "no route matches"),
            rules: vec![ObservedRule { arn: "rule".into(), priority: 700, rule: old }],
        };
        let want = Listener {
            port: 80,
            protocol: "HTTP".into(),
            ssl_policy: None,
            certificates: vec![],
            default_action: Action::fixed(404, "no route matches"),
            rules: vec![rule(vec![])],
        };
        let mut steps = Vec::new();
        listener_steps(Role::Alb, &want, Some(&have), &mut steps);
        assert_eq!(steps, vec![Step::DeleteRule { arn: "rule".into() }, Step::CreateRule { role: Role::Alb, port: 80, priority: 700, rule: rule(vec![]) }]);
    }
}
