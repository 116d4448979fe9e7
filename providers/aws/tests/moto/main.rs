//! The AWS provider against moto's AWS server (ELBv2, EC2, ACM): real SDK calls, real
//! observation and diffs. Each test gets its own moto server.
//!
//! moto 5.2 does not implement regex condition values or rule transforms; the plans that use
//! them are covered by the golden tests (`providers/aws/testdata/aws-*.in.yaml`).

mod moto;
mod operator;
mod world;

use portico_aws::aws_smithy_types;
use std::collections::BTreeMap;

use moto::Moto;
use portico_aws::Observed;
use portico_aws::{Action, Role};
use portico_aws::{AwsProvider, CallCounts};
use portico_provider::{Applied, Desired, Provider, ProviderError, conformance, faulty};
use world::{CLUSTER, ROUTES, base, desired, gateway};

async fn provider(moto: &Moto) -> AwsProvider {
    AwsProvider::with_clients(moto.clients().await, CLUSTER)
}

async fn converge(provider: &impl Provider<Observed = (portico_model::ir::ObjectRef, Observed), Plan = portico_aws::AwsPlan>, desired: &Desired) -> Applied {
    let observed = provider.observe(&desired.ir.gateway).await.unwrap();
    let plan = provider.plan(Some(desired), &observed);
    provider.apply(&plan).await.unwrap_or_else(|e| panic!("apply failed: {e}\nplan: {}", serde_json::to_string_pretty(&plan).unwrap()))
}

async fn observe(provider: &AwsProvider) -> Observed {
    provider.observe(&gateway()).await.unwrap().1
}

fn mutating(calls: &CallCounts) -> BTreeMap<String, u64> {
    calls.snapshot().into_iter().filter(|(op, _)| CallCounts::is_mutating(op)).collect()
}

fn params() -> &'static str {
    "{}"
}

#[tokio::test]
async fn create_from_empty_then_a_no_op_makes_no_mutating_call() {
    let moto = Moto::start();
    moto.network().await;
    let cert = moto::certificate("*.example.com");
    let (want, _) = desired(&base(&cert, params(), ROUTES));
    let aws = provider(&moto).await;
    let applied = converge(&aws, &want).await;
    assert!(applied.ready, "{applied:?}");
    assert_eq!(applied.addresses.len(), 2, "ALB and NLB addresses: {applied:?}");
    assert!(applied.addresses.iter().all(|a| a.address_type == "Hostname" && a.value.contains("elb")), "{applied:?}");
    let seen = observe(&aws).await;
    let alb = &seen.load_balancers[&Role::Alb];
    assert_eq!(alb.listeners.keys().copied().collect::<Vec<_>>(), vec![80, 443]);
    assert_eq!(seen.load_balancers[&Role::Nlb].listeners.keys().copied().collect::<Vec<_>>(), vec![5432]);
    assert_eq!(seen.certificates.len(), 1);
    assert!(seen.security_group.is_some());
    let before = aws.clients().calls.mutating();
    let applied_again = converge(&aws, &want).await;
    assert_eq!(applied_again.addresses, applied.addresses);
    assert_eq!(aws.clients().calls.mutating(), before, "a no-op reconcile made mutating calls: {:?}", mutating(&aws.clients().calls));
}

#[tokio::test]
async fn weights_redirects_and_fixed_responses_reach_the_rules() {
    let moto = Moto::start();
    moto.network().await;
    let (want, _) = desired(&base(&moto::certificate("*.example.com"), params(), ROUTES));
    let aws = provider(&moto).await;
    converge(&aws, &want).await;
    let seen = observe(&aws).await;
    let http = &seen.load_balancers[&Role::Alb].listeners[&80];
    assert_eq!(http.default_action, Action::fixed(404, "no route matches"));
    let actions: Vec<&Action> = http.rules.iter().map(|r| &r.rule.action).collect();
    let weights: Vec<i32> = actions
        .iter()
        .find_map(|a| match a {
            Action::Forward { target_groups } if target_groups.len() == 2 => Some(target_groups.iter().map(|(_, w)| *w).collect()),
            _ => None,
        })
        .expect("a weighted forward");
    let mut sorted = weights.clone();
    sorted.sort();
    assert_eq!(sorted, vec![20, 80]);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Redirect { protocol, port, status_code, .. } if protocol == "HTTPS" && port == "443" && status_code == "HTTP_301")),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| matches!(a, Action::FixedResponse { status_code, .. } if status_code == "500")), "{actions:?}");
    let https = &seen.load_balancers[&Role::Alb].listeners[&443];
    assert!(https.rules.iter().all(|r| !matches!(r.rule.action, Action::Redirect { .. })), "the redirect is only on the http listener");
    let groups = &seen.target_groups;
    let web = groups.values().find(|g| g.port == 8080 && g.protocol == "HTTP").expect("web target group");
    assert_eq!(web.targets.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(), vec!["10.0.1.10", "10.0.2.11"]);
    assert!(groups.values().any(|g| g.protocol == "TCP" && g.port == 5432 && g.targets.len() == 1));
}

fn with_api_path(path: &str) -> String {
    ROUTES.replace("value: /api}", &format!("value: {path}}}"))
}

#[tokio::test]
async fn one_route_edit_changes_only_its_rules_and_priorities_stay() {
    let moto = Moto::start();
    moto.network().await;
    let cert = moto::certificate("*.example.com");
    let aws = provider(&moto).await;
    converge(&aws, &desired(&base(&cert, params(), ROUTES)).0).await;
    let before = observe(&aws).await;
    let calls = aws.clients().calls.mutating();
    converge(&aws, &desired(&base(&cert, params(), &with_api_path("/apis"))).0).await;
    let edit_calls = aws.clients().calls.mutating() - calls;
    assert!(edit_calls <= 2, "one route edit should take at most 2 mutating calls, got {edit_calls}: {:?}", mutating(&aws.clients().calls));
    let after = observe(&aws).await;
    for port in [80, 443] {
        let (old, new) = (&before.load_balancers[&Role::Alb].listeners[&port].rules, &after.load_balancers[&Role::Alb].listeners[&port].rules);
        assert_eq!(old.len(), new.len());
        let changed: Vec<_> = old.iter().zip(new).filter(|(a, b)| a.arn != b.arn || a.priority != b.priority || a.rule != b.rule).collect();
        assert_eq!(changed.len(), 1, "only the edited rule changes on port {port}: {changed:#?}");
    }
    // An inserted route takes a gap: no other rule moves.
    let inserted = format!(
        "{ROUTES}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: extra, namespace: app}}\nspec:\n  parentRefs: [{{name: gw, namespace: infra}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /api/v2}}}}]\n    backendRefs: [{{name: api, port: 9090}}]\n"
    );
    converge(&aws, &desired(&base(&cert, params(), &inserted)).0).await;
    let grown = observe(&aws).await;
    let rules = &grown.load_balancers[&Role::Alb].listeners[&80].rules;
    let kept: Vec<_> =
        after.load_balancers[&Role::Alb].listeners[&80].rules.iter().filter(|r| !rules.iter().any(|n| n.arn == r.arn && n.priority == r.priority)).collect();
    assert!(kept.is_empty() || kept.iter().all(|r| r.rule.conditions.iter().any(|c| format!("{c:?}").contains("/apis"))), "existing rules moved: {kept:#?}");
    assert_eq!(rules.len(), after.load_balancers[&Role::Alb].listeners[&80].rules.len() + 1);
}

#[tokio::test]
async fn routes_over_the_rule_quota_are_not_accepted_and_the_rest_is_programmed() {
    let moto = Moto::start();
    moto.network().await;
    let (want, translation) = desired(&base(&moto::certificate("*.example.com"), "{quotas: {rulesPerListener: 2}}", ROUTES));
    let aws = provider(&moto).await;
    converge(&aws, &want).await;
    let seen = observe(&aws).await;
    assert!(seen.load_balancers[&Role::Alb].listeners.values().all(|l| l.rules.len() <= 2));
    let rejected: Vec<String> = translation
        .statuses
        .routes
        .iter()
        .filter(|(_, s)| serde_json::to_string(s).unwrap().contains("rulesPerListener"))
        .map(|(k, _)| k.name.clone())
        .collect();
    assert!(!rejected.is_empty(), "some routes must be over the quota");
    assert!(!rejected.contains(&"web".to_string()), "the oldest route keeps its place: {rejected:?}");
    let web = translation.statuses.routes.iter().find(|(k, _)| k.name == "web").unwrap().1;
    assert!(serde_json::to_string(web).unwrap().contains("\"reason\":\"Accepted\""));
}

#[tokio::test]
async fn certificates_are_imported_rotated_in_place_and_removed() {
    let moto = Moto::start();
    moto.network().await;
    let aws = provider(&moto).await;
    converge(&aws, &desired(&base(&moto::certificate("*.example.com"), params(), ROUTES)).0).await;
    let first = observe(&aws).await.certificates.into_values().next().unwrap();
    let rotated = moto::certificate("*.example.com");
    converge(&aws, &desired(&base(&rotated, params(), ROUTES)).0).await;
    let seen = observe(&aws).await;
    let second = seen.certificates.values().next().unwrap();
    assert_eq!(second.arn, first.arn, "re-imported in place");
    assert_ne!(second.fingerprint, first.fingerprint);
    let body = aws.clients().acm.get_certificate().certificate_arn(&second.arn).send().await.unwrap();
    assert_eq!(body.certificate().unwrap().trim(), rotated.0.trim());
    // Without the HTTPS listener the certificate goes.
    let http_only = base(&rotated, params(), ROUTES)
        .replace("  - name: https\n    port: 443\n    protocol: HTTPS\n", "  - name: https\n    port: 8443\n    protocol: HTTP\n");
    let http_only = http_only.replace("    tls: {certificateRefs: [{name: site-cert}]}\n", "");
    converge(&aws, &desired(&http_only).0).await;
    assert!(observe(&aws).await.certificates.is_empty());
    let listed = aws.clients().acm.list_certificates().send().await.unwrap();
    assert!(listed.certificate_summary_list().is_empty());
}

#[tokio::test]
async fn deleting_a_gateway_removes_what_it_owned_and_nothing_else() {
    let moto = Moto::start();
    let vpc = moto.network().await;
    let aws = provider(&moto).await;
    let elb = &aws.clients().elb;
    // Things Portico does not own, one of them named like ours.
    let subnets: Vec<String> =
        aws.clients().ec2.describe_subnets().send().await.unwrap().subnets().iter().filter_map(|s| s.subnet_id().map(String::from)).collect();
    elb.create_load_balancer().name("someone-elses").set_subnets(Some(subnets)).send().await.unwrap();
    let lookalike = format!("{}zzzz-lookalike", portico_aws::Namer::new(CLUSTER, &gateway()).target_group_prefix());
    for name in ["someone-elses", lookalike.as_str()] {
        elb.create_target_group().name(name).protocol("HTTP".into()).port(80).vpc_id(&vpc).target_type("ip".into()).send().await.unwrap();
    }
    let (cert, key) = moto::certificate("other.example.org");
    aws.clients().acm.import_certificate().certificate(aws_smithy_types::Blob::new(cert)).private_key(aws_smithy_types::Blob::new(key)).send().await.unwrap();
    let want = desired(&base(&moto::certificate("*.example.com"), params(), ROUTES)).0;
    conformance::delete_removes_everything(&aws, &want).await.unwrap();
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(lbs.load_balancers().iter().filter_map(|l| l.load_balancer_name()).collect::<Vec<_>>(), vec!["someone-elses"]);
    let mut groups: Vec<String> =
        elb.describe_target_groups().send().await.unwrap().target_groups().iter().filter_map(|g| g.target_group_name().map(String::from)).collect();
    groups.sort();
    let mut expected = vec![lookalike.clone(), "someone-elses".to_string()];
    expected.sort();
    assert_eq!(groups, expected);
    assert_eq!(aws.clients().acm.list_certificates().send().await.unwrap().certificate_summary_list().len(), 1);
}

#[tokio::test]
async fn a_load_balancer_with_our_name_but_not_our_tags_is_refused() {
    let moto = Moto::start();
    moto.network().await;
    let aws = provider(&moto).await;
    let subnets: Vec<String> =
        aws.clients().ec2.describe_subnets().send().await.unwrap().subnets().iter().filter_map(|s| s.subnet_id().map(String::from)).collect();
    let name = portico_aws::Namer::new(CLUSTER, &gateway()).load_balancer(Role::Alb);
    aws.clients().elb.create_load_balancer().name(&name).set_subnets(Some(subnets)).send().await.unwrap();
    let error = aws.observe(&gateway()).await.unwrap_err();
    assert!(matches!(error, ProviderError::NotOwned { .. }), "{error}");
    assert_eq!(error.condition_reason(), "Invalid");
}

#[tokio::test]
async fn a_crash_between_any_two_steps_converges_without_duplicates() {
    let moto = Moto::start();
    moto.network().await;
    let want = desired(&base(&moto::certificate("*.example.com"), params(), ROUTES)).0;
    let aws = provider(&moto).await;
    let total = aws.plan(Some(&want), &aws.observe(&gateway()).await.unwrap()).plan.steps.len();
    assert!(total > 10, "{total} steps");
    for stop in [1, 3, total / 2, total - 2] {
        // Start from empty each time: delete, then crash part way through creating.
        aws.delete(&gateway()).await.unwrap();
        *aws.interrupt_after.lock().unwrap() = Some(stop);
        let plan = aws.plan(Some(&want), &aws.observe(&gateway()).await.unwrap());
        assert!(aws.apply(&plan).await.is_err(), "the crash at step {stop} is reported");
        converge(&aws, &want).await;
        conformance::no_op_plan_is_empty(&aws, &want).await.unwrap_or_else(|e| panic!("after a crash at step {stop}: {e}"));
        let lbs = aws.clients().elb.describe_load_balancers().send().await.unwrap();
        assert_eq!(lbs.load_balancers().len(), 2, "no duplicate load balancers after a crash at step {stop}");
        let certs = aws.clients().acm.list_certificates().send().await.unwrap();
        assert_eq!(certs.certificate_summary_list().len(), 1, "no duplicate certificates after a crash at step {stop}");
    }
}

#[tokio::test]
async fn shared_provider_suite() {
    let moto = Moto::start();
    moto.network().await;
    let aws = provider(&moto).await;
    conformance::delete_of_nothing_succeeds(&aws, &gateway()).await.unwrap();
    let want = desired(&base(&moto::certificate("*.example.com"), params(), ROUTES)).0;
    conformance::apply_is_idempotent(&aws, &want).await.unwrap();
    conformance::no_op_plan_is_empty(&aws, &want).await.unwrap();
    conformance::delete_removes_everything(&aws, &want).await.unwrap();
    conformance::delete_of_nothing_succeeds(&aws, &gateway()).await.unwrap();
}

#[tokio::test]
async fn throttling_is_reported_as_retryable_and_the_next_pass_converges() {
    let moto = Moto::start();
    moto.network().await;
    let aws = faulty::Faulty::new(provider(&moto).await);
    let want = desired(&base(&moto::certificate("*.example.com"), params(), ROUTES)).0;
    let throttled = ProviderError::Throttled { platform: "AWS".into(), operation: "CreateRule".into(), message: "Throttling: Rate exceeded".into() };
    aws.inject(faulty::Call::Apply, throttled);
    let plan = aws.plan(Some(&want), &aws.observe(&gateway()).await.unwrap());
    let error = aws.apply(&plan).await.unwrap_err();
    assert!(error.retryable());
    assert_eq!(error.condition_reason(), "Pending");
    converge(&aws, &want).await;
    conformance::no_op_plan_is_empty(&aws, &want).await.unwrap();
}

#[tokio::test]
async fn endpoint_changes_only_register_and_deregister_targets() {
    let moto = Moto::start();
    moto.network().await;
    let cert = moto::certificate("*.example.com");
    let aws = provider(&moto).await;
    converge(&aws, &desired(&base(&cert, params(), ROUTES)).0).await;
    let before = aws.clients().calls.snapshot();
    let moved = base(&cert, params(), ROUTES)
        .replace("endpoints: [{addresses: [10.0.1.10]}, {addresses: [10.0.2.11]}]", "endpoints: [{addresses: [10.0.1.10]}, {addresses: [10.0.2.12]}]");
    converge(&aws, &desired(&moved).0).await;
    let after = aws.clients().calls.snapshot();
    let changed: BTreeMap<&String, u64> = after
        .iter()
        .filter(|(op, n)| CallCounts::is_mutating(op) && before.get(*op) != Some(n))
        .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0)))
        .collect();
    assert_eq!(changed, BTreeMap::from([(&"elbv2:DeregisterTargets".to_string(), 1), (&"elbv2:RegisterTargets".to_string(), 1)]));
    let seen = observe(&aws).await;
    let web = seen.target_groups.values().find(|g| g.port == 8080 && g.protocol == "HTTP").unwrap();
    assert_eq!(web.targets.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(), vec!["10.0.1.10", "10.0.2.12"]);
}

/// TCP and UDP on one port to the same Service port: moto accepts the one TCP_UDP listener and
/// its TCP_UDP target group, and the managed security group opens the port for both protocols.
#[tokio::test]
async fn tcp_and_udp_on_one_port_become_one_tcp_udp_listener() {
    let moto = Moto::start();
    moto.network().await;
    let world = base(&moto::certificate("*.example.com"), params(), ROUTES)
        .replace(
            "  - {name: db, port: 5432, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}",
            "  - {name: db, port: 5432, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n  - {name: db-udp, port: 5432, protocol: UDP, allowedRoutes: {namespaces: {from: All}}}",
        )
        .replace("spec: {ports: [{name: pg, port: 5432}]}", "spec: {ports: [{name: pg, port: 5432}, {name: pg-udp, port: 5432, protocol: UDP}]}")
        .replace("ports: [{name: pg, port: 5432}]\n", "ports: [{name: pg, port: 5432}, {name: pg-udp, port: 5432, protocol: UDP}]\n");
    let world = format!(
        "{world}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: UDPRoute\nmetadata: {{name: db-udp, namespace: app}}\nspec:\n  parentRefs: [{{name: gw, namespace: infra, sectionName: db-udp}}]\n  rules: [{{backendRefs: [{{name: db, port: 5432}}]}}]\n"
    );
    let (want, translation) = desired(&world);
    assert!(want.ir.ports.iter().any(|p| p.port == 5432 && p.protocol == portico_model::ir::PortProtocol::Udp), "{:?}", translation.statuses);
    let aws = provider(&moto).await;
    converge(&aws, &want).await;
    let seen = observe(&aws).await;
    let nlb = &seen.load_balancers[&Role::Nlb].listeners;
    assert_eq!(nlb.keys().copied().collect::<Vec<_>>(), vec![5432]);
    assert_eq!(nlb[&5432].protocol, "TCP_UDP");
    let group = seen.target_groups.values().find(|g| g.protocol == "TCP_UDP").expect("a TCP_UDP target group");
    assert_eq!((group.port, group.targets.len()), (5432, 1));
    let ingress = &seen.security_group.as_ref().expect("the managed security group").ingress;
    for protocol in ["tcp", "udp"] {
        assert!(ingress.iter().any(|(p, port, _)| p == protocol && *port == 5432), "{protocol}/5432 open: {ingress:?}");
    }
    let before = aws.clients().calls.mutating();
    converge(&aws, &want).await;
    assert_eq!(aws.clients().calls.mutating(), before, "a no-op reconcile made mutating calls: {:?}", mutating(&aws.clients().calls));
}
