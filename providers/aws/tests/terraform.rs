//! `terraform-test/aws` is applied by hand against a real account, never in CI. This test parses
//! it and checks what would otherwise only show up there: the operator's IAM role trusts nothing
//! but the `portico` service account, its policy has no wildcard action yet covers every call the
//! provider makes, mutations are scoped to what Portico owns, and the configuration is complete.

use std::collections::BTreeSet;

use hcl::expr::{Expression, ObjectKey};
use hcl::{Block, Body, Structure};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../terraform-test/aws");

/// Every ELBv2, ACM and EC2 mutation the AWS provider makes.
const REQUIRED_ACTIONS: &[&str] = &[
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "acm:ImportCertificate",
    "acm:DeleteCertificate",
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
];

/// Every top-level block of every `*.tf` file; panics naming the file that does not parse.
fn blocks() -> Vec<Block> {
    let mut paths: Vec<_> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 4, "expected the Terraform files in {DIR}, found {paths:?}");
    let mut blocks = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        blocks.extend(body.into_blocks());
    }
    blocks
}

/// `(name, body)` of each top-level `kind "ty" "name"` block, e.g. `resource "aws_iam_role" ...`.
fn of_type<'a>(blocks: &'a [Block], kind: &str, ty: &str) -> Vec<(&'a str, &'a Body)> {
    let label = |b: &'a Block, i: usize| b.labels().get(i).map(|l| l.as_str());
    blocks.iter().filter(|b| b.identifier() == kind && label(b, 0) == Some(ty)).map(|b| (label(b, 1).unwrap_or(""), b.body())).collect()
}

fn named<'a>(blocks: &'a [Block], kind: &str, ty: &str, name: &str) -> &'a Body {
    let found = of_type(blocks, kind, ty).into_iter().find(|(n, _)| *n == name);
    found.unwrap_or_else(|| panic!("no {kind} \"{ty}\" \"{name}\"")).1
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn nested<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Body> {
    body.blocks().filter(move |b| b.identifier() == ident).map(Block::body)
}

/// A string as written (templates keep their `${...}`); any other expression formatted as HCL.
fn text(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(t) => t.to_string(),
        other => other.to_string(),
    }
}

fn texts(expr: Option<&Expression>) -> Vec<String> {
    match expr {
        Some(Expression::Array(items)) => items.iter().map(text).collect(),
        Some(other) => vec![text(other)],
        None => Vec::new(),
    }
}

/// The value under `key` of an object expression (a map attribute or a manifest).
fn field<'a>(expr: Option<&'a Expression>, key: &str) -> Option<&'a Expression> {
    let Some(Expression::Object(object)) = expr else { return None };
    let key_text = |k: &ObjectKey| if let ObjectKey::Expression(e) = k { text(e) } else { k.to_string() };
    object.iter().find_map(|(k, v)| (key_text(k) == key).then_some(v))
}

struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    /// `(test, variable, values)`
    conditions: Vec<(String, String, Vec<String>)>,
    /// `(type, identifiers)`
    principals: Vec<(String, Vec<String>)>,
}

fn statements(document: &Body) -> Vec<Statement> {
    let statements: Vec<_> = nested(document, "statement")
        .map(|s| {
            for negated in ["not_actions", "not_resources", "not_principals"] {
                assert!(attr(s, negated).is_none(), "a policy statement uses {negated}");
            }
            assert!(texts(attr(s, "effect")).iter().all(|e| e == "Allow"), "only Allow statements are expected");
            let condition = |c: &Body| (texts(attr(c, "test")).concat(), texts(attr(c, "variable")).concat(), texts(attr(c, "values")));
            Statement {
                sid: texts(attr(s, "sid")).concat(),
                actions: texts(attr(s, "actions")),
                resources: texts(attr(s, "resources")),
                conditions: nested(s, "condition").map(condition).collect(),
                principals: nested(s, "principals").map(|p| (texts(attr(p, "type")).concat(), texts(attr(p, "identifiers")))).collect(),
            }
        })
        .collect();
    assert!(!statements.is_empty(), "a policy document without statements");
    statements
}

/// `data.aws_iam_policy_document.NAME.json` -> `NAME`.
fn document_name(expr: Option<&Expression>) -> String {
    let reference = texts(expr).concat();
    let name = reference.strip_prefix("data.aws_iam_policy_document.").and_then(|r| r.strip_suffix(".json"));
    name.unwrap_or_else(|| panic!("{reference:?} is not a policy document's json")).to_string()
}

/// The operator's role (the one assumed by web identity) and its permission policy document.
fn operator_role(blocks: &[Block]) -> (&str, Vec<Statement>, Vec<Statement>) {
    let web_identity = |s: &Statement| s.actions.iter().any(|a| a == "sts:AssumeRoleWithWebIdentity");
    let document = |name: String| statements(named(blocks, "data", "aws_iam_policy_document", &name));
    let trust_of = |role: &Body| document(document_name(attr(role, "assume_role_policy")));
    let roles: Vec<_> = of_type(blocks, "resource", "aws_iam_role").into_iter().map(|(name, body)| (name, trust_of(body))).collect();
    let roles: Vec<_> = roles.into_iter().filter(|(_, trust)| trust.iter().any(web_identity)).collect();
    let [(role, trust)] = <[_; 1]>::try_from(roles).unwrap_or_else(|r| panic!("expected one web-identity role, found {}", r.len()));
    let attached = of_type(blocks, "resource", "aws_iam_role_policy_attachment")
        .into_iter()
        .filter(|(_, b)| texts(attr(b, "role")).concat() == format!("aws_iam_role.{role}.name"))
        .filter_map(|(_, b)| Some(texts(attr(b, "policy_arn")).concat().strip_prefix("aws_iam_policy.")?.strip_suffix(".arn")?.to_string()))
        .collect::<Vec<_>>();
    let [policy] = attached.as_slice() else { panic!("role {role} should have exactly one aws_iam_policy attached, has {attached:?}") };
    (role, trust, document(document_name(attr(named(blocks, "resource", "aws_iam_policy", policy), "policy"))))
}

#[test]
fn builds_a_vpc_an_eks_cluster_and_its_oidc_provider() {
    let blocks = blocks();
    for ty in ["aws_vpc", "aws_eks_cluster", "aws_eks_node_group", "aws_iam_openid_connect_provider", "aws_nat_gateway"] {
        assert_eq!(of_type(&blocks, "resource", ty).len(), 1, "one resource {ty}");
    }
    let (_, oidc) = of_type(&blocks, "resource", "aws_iam_openid_connect_provider")[0];
    assert_eq!(texts(attr(oidc, "client_id_list")), ["sts.amazonaws.com"]);
    assert!(texts(attr(oidc, "thumbprint_list")).concat().starts_with("data.tls_certificate."), "thumbprint from a tls_certificate");
    assert_eq!(of_type(&blocks, "data", "tls_certificate").len(), 1);
    for (subnet, role) in [("public", "kubernetes.io/role/elb"), ("private", "kubernetes.io/role/internal-elb")] {
        let tags = attr(named(&blocks, "resource", "aws_subnet", subnet), "tags");
        assert_eq!(field(tags, role).map(text).as_deref(), Some("1"), "{subnet} subnets need {role} = 1");
        let shared = field(tags, "kubernetes.io/cluster/${var.cluster_name}").map(text);
        assert_eq!(shared.as_deref(), Some("shared"), "{subnet} subnets need the cluster tag");
    }
}

#[test]
fn operator_role_trusts_only_the_portico_service_account() {
    let blocks = blocks();
    let (role, trust, _) = operator_role(&blocks);
    for statement in &trust {
        assert_eq!(statement.actions, ["sts:AssumeRoleWithWebIdentity"], "trust statement {}", statement.sid);
        let [(kind, ids)] = statement.principals.as_slice() else { panic!("one principal expected") };
        assert_eq!(kind, "Federated");
        assert!(ids.iter().all(|id| id.starts_with("aws_iam_openid_connect_provider.") && id.ends_with(".arn")), "{ids:?}");
        let condition = |suffix: &str| statement.conditions.iter().find(|(test, var, _)| test == "StringEquals" && var.ends_with(suffix));
        let sub = condition(":sub").map(|c| c.2.clone());
        let service_account = vec!["system:serviceaccount:portico-system:portico".to_string()];
        assert_eq!(sub, Some(service_account), "sub must name exactly the portico service account");
        assert_eq!(condition(":aud").map(|c| c.2.clone()), Some(vec!["sts.amazonaws.com".to_string()]));
    }
    let accounts = of_type(&blocks, "resource", "kubernetes_service_account_v1");
    let [(_, account)] = accounts.as_slice() else { panic!("one service account expected") };
    let metadata = nested(account, "metadata").next().expect("service account metadata");
    assert_eq!(texts(attr(metadata, "name")), ["portico"]);
    let annotation = field(attr(metadata, "annotations"), "eks.amazonaws.com/role-arn").map(text);
    assert_eq!(annotation, Some(format!("aws_iam_role.{role}.arn")), "the service account must carry the operator role");
    let namespaces = of_type(&blocks, "resource", "kubernetes_namespace_v1");
    let [(namespace, body)] = namespaces.as_slice() else { panic!("one namespace expected") };
    assert_eq!(texts(attr(nested(body, "metadata").next().expect("namespace metadata"), "name")), ["portico-system"]);
    assert_eq!(texts(attr(metadata, "namespace")), [format!("kubernetes_namespace_v1.{namespace}.metadata[0].name")]);
}

#[test]
fn operator_policy_is_least_privilege_and_complete() {
    let blocks = blocks();
    let (_, _, policy) = operator_role(&blocks);
    let actions: BTreeSet<&str> = policy.iter().flat_map(|s| s.actions.iter().map(String::as_str)).collect();
    for action in &actions {
        let (service, name) = action.split_once(':').unwrap_or_else(|| panic!("{action:?} is not service:Action"));
        assert!(!action.contains('*') && !service.is_empty() && !name.is_empty(), "wildcard or malformed action {action:?}");
    }
    let missing: Vec<_> = REQUIRED_ACTIONS.iter().filter(|a| !actions.contains(**a)).collect();
    assert!(missing.is_empty(), "the operator policy lacks {missing:?}");
    // A mutation is allowed on what Portico owns: `*` only with the ownership tag condition;
    // otherwise some other condition, one Terraform-made resource, or Portico's `pt...` names.
    let read_only = |a: &String| a.split_once(':').is_some_and(|(_, n)| ["Describe", "List", "Get"].iter().any(|p| n.starts_with(p)));
    let owner_tags = ["aws:RequestTag/portico.dev/cluster", "aws:ResourceTag/portico.dev/cluster"];
    for statement in policy.iter().filter(|s| !s.actions.iter().all(read_only)) {
        let (sid, resources) = (&statement.sid, &statement.resources);
        assert!(!resources.is_empty(), "{sid}: no resources");
        if resources.iter().any(|r| r == "*") {
            let owned = statement
                .conditions
                .iter()
                .any(|(test, var, values)| test == "StringEquals" && owner_tags.contains(&var.as_str()) && values == &["var.cluster_name"]);
            assert!(owned, "{sid}: a mutation on `*` needs the portico.dev/cluster = var.cluster_name condition");
        } else if statement.conditions.is_empty() {
            let narrow = |r: &String| !r.contains('*') || r.contains("/pt");
            assert!(resources.iter().all(narrow), "{sid}: unconditioned mutation on {resources:?}");
        }
    }
}

#[test]
fn installs_portico_for_the_aws_gateway_class() {
    let blocks = blocks();
    let class = attr(named(&blocks, "resource", "kubernetes_manifest", "gateway_class"), "manifest");
    assert_eq!(field(field(class, "spec"), "controllerName").map(text).as_deref(), Some("portico.dev/aws"));
    let parameters = field(field(class, "spec"), "parametersRef");
    assert_eq!(field(parameters, "kind").map(text).as_deref(), Some("AWSLoadBalancerParameters"));
    let deployment = named(&blocks, "resource", "kubernetes_deployment_v1", "portico");
    let spec = nested(deployment, "spec").next().expect("deployment spec");
    let pod = nested(nested(spec, "template").next().expect("pod template"), "spec").next().expect("pod spec");
    let args = texts(nested(pod, "container").next().and_then(|c| attr(c, "args"))).join(" ");
    assert!(args.starts_with("run --provider aws --cluster-name var.cluster_name --aws-region var.region"), "{args}");
}

#[test]
fn every_variable_used_is_declared_and_every_declared_one_used() {
    let blocks = blocks();
    let variables = blocks.iter().filter(|b| b.identifier() == "variable");
    let declared: BTreeSet<String> = variables.flat_map(|b| b.labels().first()).map(|l| l.as_str().into()).collect();
    let mut used = BTreeSet::new();
    blocks.iter().filter(|b| b.identifier() != "variable").for_each(|b| variables_used(b.body(), &mut used));
    assert!(used.contains("cluster_name") && used.contains("region"), "the walk found only {used:?}");
    let undeclared: Vec<_> = used.difference(&declared).collect();
    assert!(undeclared.is_empty(), "variables used but not declared: {undeclared:?}");
    let unused: Vec<_> = declared.difference(&used).collect();
    assert!(unused.is_empty(), "variables declared but never used: {unused:?}");
}

/// Collects `x` of every `var.x` in the attributes of a body and its nested blocks, reading each
/// expression as formatted HCL so that references inside `"${...}"` templates count too.
fn variables_used(body: &Body, used: &mut BTreeSet<String>) {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for structure in body.iter() {
        let expr = match structure {
            Structure::Attribute(attribute) => attribute.expr().to_string(),
            Structure::Block(block) => {
                variables_used(block.body(), used);
                continue;
            }
        };
        for (at, _) in expr.match_indices("var.") {
            if !expr[..at].ends_with(|c: char| ident(c) || c == '.') {
                used.insert(expr[at + 4..].chars().take_while(|c| ident(*c)).collect());
            }
        }
    }
}

/// Terraform's text for a resource or condition value, in `portico_aws::permissions`' template form.
fn as_template(text: &str) -> String {
    text.replace("${local.elb_arn}", "arn:{partition}:elasticloadbalancing:{region}:{account}")
        .replace("${local.ec2_arn}", "arn:{partition}:ec2:{region}:{account}")
        .replace("${local.acm_arn}", "arn:{partition}:acm:{region}:{account}")
        .replace("${local.partition}", "{partition}")
        .replace("${local.account_id}", "{account}")
        .replace("${aws_vpc.this.id}", "{vpc}")
        .replace("var.cluster_name", "{cluster}")
}

#[test]
fn the_policy_is_the_one_portico_permissions_aws_prints() {
    let (_, _, policy) = operator_role(&blocks());
    let terraform: Vec<String> = policy
        .iter()
        .map(|s| {
            let conditions: Vec<String> =
                s.conditions.iter().map(|(t, v, values)| format!("{t} {v} {:?}", values.iter().map(|x| as_template(x)).collect::<Vec<_>>())).collect();
            format!("{} {:?} {:?} {:?}", s.sid, s.actions, s.resources.iter().map(|r| as_template(r)).collect::<Vec<_>>(), conditions)
        })
        .collect();
    let code: Vec<String> = portico_aws::permissions::STATEMENTS
        .iter()
        .map(|s| {
            let conditions: Vec<String> = s.conditions.iter().map(|(t, v, values)| format!("{t} {v} {values:?}")).collect();
            format!("{} {:?} {:?} {:?}", s.sid, s.actions, s.resources, conditions)
        })
        .collect();
    assert_eq!(terraform, code, "terraform-test/aws/iam.tf and providers/aws/src/permissions.rs must list the same statements");
    let actions: BTreeSet<&str> = portico_aws::permissions::STATEMENTS.iter().flat_map(|s| s.actions.iter().copied()).collect();
    let missing: Vec<_> = REQUIRED_ACTIONS.iter().filter(|a| !actions.contains(**a)).collect();
    assert!(missing.is_empty(), "calls the provider makes that the policy does not allow: {missing:?}");
}
