terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.36"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
}

provider "aws" {
  region = var.region

  # Every resource of this test carries these tags, so a forgotten run is easy to find and bill.
  # They deliberately differ from `portico.dev/cluster`, the tag that grants Portico its rights.
  default_tags {
    tags = {
      "portico.dev/terraform-test" = var.cluster_name
    }
  }
}

# The cluster endpoint is only known once the cluster exists: apply the AWS resources first (see
# README.md), then the Kubernetes ones.
provider "kubernetes" {
  host                   = aws_eks_cluster.this.endpoint
  cluster_ca_certificate = base64decode(aws_eks_cluster.this.certificate_authority[0].data)

  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", aws_eks_cluster.this.name, "--region", var.region]
  }
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}
