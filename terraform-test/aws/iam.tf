# The operator's AWS identity: a role only the `portico` service account in `portico-system` can
# assume (IRSA), with a policy that lets it read the account's load balancing state and change
# only what it created itself. The statements are the ones `portico permissions aws` prints
# (providers/aws/src/permissions.rs); providers/aws/tests/terraform.rs checks they are equal.
#
# Portico tags everything it creates with `portico.dev/cluster = <cluster name>`, and names its
# ALBs `pta-...`, its NLBs `ptn-...` and its target groups `ptg-...`. Mutations of load balancers,
# target groups, security groups and certificates therefore require that tag, in the request
# (create) or on the resource (change, delete). Listeners and rules carry no tags of their own, so
# their actions are scoped by ARN to Portico's load balancers, by name.

locals {
  account_id = data.aws_caller_identity.current.account_id
  elb_arn    = "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account_id}"
  ec2_arn    = "arn:${local.partition}:ec2:${var.region}:${local.account_id}"
  acm_arn    = "arn:${local.partition}:acm:${var.region}:${local.account_id}"
  oidc_host  = replace(aws_iam_openid_connect_provider.eks.url, "https://", "")
}

data "aws_iam_policy_document" "portico_trust" {
  statement {
    sid     = "PorticoServiceAccountOnly"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = ["system:serviceaccount:portico-system:portico"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "portico" {
  name               = "${var.cluster_name}-portico"
  description        = "Portico operator of EKS cluster ${var.cluster_name} (IRSA)"
  assume_role_policy = data.aws_iam_policy_document.portico_trust.json
}

data "aws_iam_policy_document" "portico" {
  statement {
    sid = "ElbRead"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
    ]
    resources = ["*"]
  }

  # Creating only with the owner tag in the request.
  statement {
    sid = "ElbCreateOwned"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:CreateTargetGroup",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  # Tags passed to a create call need AddTags too. Limiting it to create calls keeps Portico from
  # putting its owner tag on someone else's load balancer (and then deleting it).
  statement {
    sid       = "ElbTagOnCreate"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"]
    }
  }

  statement {
    sid = "ElbChangeOwned"
    actions = [
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
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  # Listeners and rules have no owner tag: scope them by the load balancer name in their ARN.
  # CreateListener is authorized on the load balancer, CreateRule on the listener.
  statement {
    sid = "ElbListenersOfPorticoLoadBalancers"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:SetRulePriorities",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/app/pta-*/*",
      "${local.elb_arn}:loadbalancer/net/ptn-*/*",
      "${local.elb_arn}:listener/app/pta-*/*",
      "${local.elb_arn}:listener/net/ptn-*/*",
      "${local.elb_arn}:listener-rule/app/pta-*/*",
      "${local.elb_arn}:targetgroup/ptg-*/*",
    ]
  }

  statement {
    sid = "Ec2Read"
    actions = [
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeAvailabilityZones",
    ]
    resources = ["*"]
  }

  # CreateSecurityGroup is authorized on the VPC (this one only) and on the new group (which
  # must carry the owner tag).
  statement {
    sid       = "Ec2CreateSecurityGroupInVpc"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn}:vpc/${aws_vpc.this.id}"]
  }

  statement {
    sid       = "Ec2CreateOwnedSecurityGroup"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid       = "Ec2TagOnCreateOnly"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }
  }

  statement {
    sid = "Ec2ChangeOwnedSecurityGroup"
    actions = [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:DeleteSecurityGroup",
    ]
    resources = ["${local.ec2_arn}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid = "AcmRead"
    actions = [
      "acm:ListCertificates",
      "acm:DescribeCertificate",
      "acm:ListTagsForCertificate",
    ]
    resources = ["*"]
  }

  # A new import names no ARN yet, and its tags are authorized as AddTagsToCertificate. ACM has
  # no condition that tells tag-on-import apart from tagging an existing certificate, so this is
  # the one place Portico could put its owner tag on a certificate it did not import.
  statement {
    sid = "AcmImportOwned"
    actions = [
      "acm:ImportCertificate",
      "acm:AddTagsToCertificate",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  # Re-importing a changed certificate into its existing ARN (which takes no tags), updating its
  # tags, deleting it.
  statement {
    sid = "AcmChangeOwned"
    actions = [
      "acm:ImportCertificate",
      "acm:AddTagsToCertificate",
      "acm:DeleteCertificate",
    ]
    resources = ["${local.acm_arn}:certificate/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/portico.dev/cluster"
      values   = [var.cluster_name]
    }
  }

  # The first load balancer of an account creates the ELB service-linked role.
  statement {
    sid       = "ElbServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "portico" {
  name        = "${var.cluster_name}-portico"
  description = "What the Portico operator of ${var.cluster_name} may do in ELBv2, EC2 and ACM"
  policy      = data.aws_iam_policy_document.portico.json
}

resource "aws_iam_role_policy_attachment" "portico" {
  role       = aws_iam_role.portico.name
  policy_arn = aws_iam_policy.portico.arn
}
