//! The IAM policy Portico's AWS provider needs, kept next to the code that makes the calls: read
//! the account's load balancing state, change only what carries this cluster's owner tag (or, for
//! listeners and rules, which have no tags, what sits under Portico's own load balancers by name).
//! `portico permissions aws` prints it as a policy document; `terraform-test/aws/iam.tf` writes the
//! same statements (a test checks they agree), and a test checks every call the provider makes is
//! covered.

use serde_json::{Value, json};

/// One `Allow` statement. Resource and condition texts may hold `{partition}`, `{region}`,
/// `{account}`, `{vpc}` and `{cluster}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    pub sid: &'static str,
    pub actions: &'static [&'static str],
    pub resources: &'static [&'static str],
    /// `(test, variable, values)`
    pub conditions: &'static [(&'static str, &'static str, &'static [&'static str])],
}

const OWNED_REQUEST: (&str, &str, &[&str]) = ("StringEquals", "aws:RequestTag/portico.dev/cluster", &["{cluster}"]);
const OWNED_RESOURCE: (&str, &str, &[&str]) = ("StringEquals", "aws:ResourceTag/portico.dev/cluster", &["{cluster}"]);

pub const STATEMENTS: &[Statement] = &[
    Statement {
        sid: "ElbRead",
        actions: &[
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeTags",
        ],
        resources: &["*"],
        conditions: &[],
    },
    // Creating only with the owner tag in the request.
    Statement {
        sid: "ElbCreateOwned",
        actions: &["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
        resources: &["*"],
        conditions: &[OWNED_REQUEST],
    },
    // Tags passed to a create call need AddTags too; limited to create calls, so Portico cannot put
    // its owner tag on someone else's load balancer (and then delete it).
    Statement {
        sid: "ElbTagOnCreate",
        actions: &["elasticloadbalancing:AddTags"],
        resources: &["*"],
        conditions: &[
            OWNED_REQUEST,
            ("StringEquals", "elasticloadbalancing:CreateAction", &["CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"]),
        ],
    },
    Statement {
        sid: "ElbChangeOwned",
        actions: &[
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:RegisterTargets",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ],
        resources: &["*"],
        conditions: &[OWNED_RESOURCE],
    },
    // Listeners and rules have no owner tag: scoped by the load balancer name in their ARN.
    // CreateListener is authorized on the load balancer, CreateRule on the listener.
    Statement {
        sid: "ElbListenersOfPorticoLoadBalancers",
        actions: &[
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:SetRulePriorities",
            "elasticloadbalancing:AddListenerCertificates",
            "elasticloadbalancing:RemoveListenerCertificates",
        ],
        resources: &[
            "arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/app/pta-*/*",
            "arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/net/ptn-*/*",
            "arn:{partition}:elasticloadbalancing:{region}:{account}:listener/app/pta-*/*",
            "arn:{partition}:elasticloadbalancing:{region}:{account}:listener/net/ptn-*/*",
            "arn:{partition}:elasticloadbalancing:{region}:{account}:listener-rule/app/pta-*/*",
            "arn:{partition}:elasticloadbalancing:{region}:{account}:targetgroup/ptg-*/*",
        ],
        conditions: &[],
    },
    Statement {
        sid: "Ec2Read",
        actions: &["ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ec2:DescribeAvailabilityZones"],
        resources: &["*"],
        conditions: &[],
    },
    // CreateSecurityGroup is authorized on the VPC and on the new group (which must carry the tag).
    Statement {
        sid: "Ec2CreateSecurityGroupInVpc",
        actions: &["ec2:CreateSecurityGroup"],
        resources: &["arn:{partition}:ec2:{region}:{account}:vpc/{vpc}"],
        conditions: &[],
    },
    Statement {
        sid: "Ec2CreateOwnedSecurityGroup",
        actions: &["ec2:CreateSecurityGroup"],
        resources: &["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        conditions: &[OWNED_REQUEST],
    },
    Statement {
        sid: "Ec2TagOnCreateOnly",
        actions: &["ec2:CreateTags"],
        resources: &["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        conditions: &[("StringEquals", "ec2:CreateAction", &["CreateSecurityGroup"])],
    },
    Statement {
        sid: "Ec2ChangeOwnedSecurityGroup",
        actions: &["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
        resources: &["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        conditions: &[OWNED_RESOURCE],
    },
    Statement {
        sid: "AcmRead",
        actions: &["acm:ListCertificates", "acm:DescribeCertificate", "acm:ListTagsForCertificate"],
        resources: &["*"],
        conditions: &[],
    },
    // A new import names no ARN yet, and its tags are authorized as AddTagsToCertificate; ACM has no
    // condition that tells tag-on-import from tagging an existing certificate.
    Statement { sid: "AcmImportOwned", actions: &["acm:ImportCertificate", "acm:AddTagsToCertificate"], resources: &["*"], conditions: &[OWNED_REQUEST] },
    // Re-importing a changed certificate into its ARN, updating its tags, deleting it.
    Statement {
        sid: "AcmChangeOwned",
        actions: &["acm:ImportCertificate", "acm:AddTagsToCertificate", "acm:DeleteCertificate"],
        resources: &["arn:{partition}:acm:{region}:{account}:certificate/*"],
        conditions: &[OWNED_RESOURCE],
    },
    // The first load balancer of an account creates the ELB service-linked role.
    Statement {
        sid: "ElbServiceLinkedRole",
        actions: &["iam:CreateServiceLinkedRole"],
        resources: &["arn:{partition}:iam::{account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/*"],
        conditions: &[("StringEquals", "iam:AWSServiceName", &["elasticloadbalancing.amazonaws.com"])],
    },
];

/// Where the policy applies; `*` is allowed for region, account and VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub cluster: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    pub vpc: String,
}

impl Scope {
    /// Any region, account and VPC of the `aws` partition.
    pub fn any(cluster: &str) -> Scope {
        Scope { cluster: cluster.into(), partition: "aws".into(), region: "*".into(), account: "*".into(), vpc: "*".into() }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{partition}", &self.partition)
            .replace("{region}", &self.region)
            .replace("{account}", &self.account)
            .replace("{vpc}", &self.vpc)
            .replace("{cluster}", &self.cluster)
    }
}

/// The IAM policy document (JSON) for `scope`.
pub fn policy_document(scope: &Scope) -> Value {
    let statements: Vec<Value> = STATEMENTS
        .iter()
        .map(|s| {
            let mut statement = json!({
                "Sid": s.sid, "Effect": "Allow", "Action": s.actions,
                "Resource": s.resources.iter().map(|r| scope.fill(r)).collect::<Vec<_>>(),
            });
            if !s.conditions.is_empty() {
                let mut condition = serde_json::Map::new();
                for (test, variable, values) in s.conditions {
                    let tests = condition.entry(test.to_string()).or_insert_with(|| json!({}));
                    tests[*variable] = json!(values.iter().map(|v| scope.fill(v)).collect::<Vec<_>>());
                }
                statement["Condition"] = Value::Object(condition);
            }
            statement
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_fills_the_scope_and_groups_conditions() {
        let doc = policy_document(&Scope::any("prod-eu-1"));
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), STATEMENTS.len());
        let tag = statements.iter().find(|s| s["Sid"] == "ElbTagOnCreate").unwrap();
        assert_eq!(tag["Condition"]["StringEquals"]["aws:RequestTag/portico.dev/cluster"], json!(["prod-eu-1"]));
        assert_eq!(tag["Condition"]["StringEquals"]["elasticloadbalancing:CreateAction"].as_array().unwrap().len(), 4);
        let listeners = statements.iter().find(|s| s["Sid"] == "ElbListenersOfPorticoLoadBalancers").unwrap();
        assert_eq!(listeners["Resource"][0], "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/pta-*/*");
        let text = doc.to_string();
        for placeholder in ["{partition}", "{region}", "{account}", "{vpc}", "{cluster}"] {
            assert!(!text.contains(placeholder), "{placeholder} is filled");
        }
        assert!(statements.iter().all(|s| s["Action"].as_array().unwrap().iter().all(|a| !a.as_str().unwrap().contains('*'))), "no wildcard action");
    }
}
