# Portico installed with plain Kubernetes resources (there is no Helm chart yet). The CRDs are not
# managed here: apply them with `portico crds ... | kubectl apply -f -` first (README.md).

resource "kubernetes_namespace_v1" "portico" {
  metadata {
    name = "portico-system"
  }

  depends_on = [aws_eks_node_group.default]
}

resource "kubernetes_service_account_v1" "portico" {
  metadata {
    name      = "portico"
    namespace = kubernetes_namespace_v1.portico.metadata[0].name

    annotations = {
      "eks.amazonaws.com/role-arn" = aws_iam_role.portico.arn
    }
  }
}

resource "kubernetes_cluster_role_v1" "portico" {
  metadata {
    name = "portico"
  }

  rule {
    api_groups = ["gateway.networking.k8s.io"]
    resources = [
      "gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes",
      "referencegrants", "backendtlspolicies",
    ]
    verbs = ["get", "list", "watch"]
  }

  rule {
    api_groups = ["gateway.networking.k8s.io"]
    resources = [
      "gatewayclasses/status", "gateways/status", "httproutes/status", "grpcroutes/status",
      "tlsroutes/status", "tcproutes/status", "udproutes/status", "backendtlspolicies/status",
    ]
    verbs = ["update", "patch"]
  }

  # Finalizers on the objects whose cloud resources Portico must delete.
  rule {
    api_groups = ["gateway.networking.k8s.io"]
    resources  = ["gatewayclasses", "gateways"]
    verbs      = ["update", "patch"]
  }

  rule {
    api_groups = [""]
    resources  = ["services", "secrets", "namespaces", "endpoints"]
    verbs      = ["get", "list", "watch"]
  }

  rule {
    api_groups = ["discovery.k8s.io"]
    resources  = ["endpointslices"]
    verbs      = ["get", "list", "watch"]
  }

  rule {
    api_groups = ["events.k8s.io"]
    resources  = ["events"]
    verbs      = ["create", "patch"]
  }

  rule {
    api_groups = ["portico.dev"]
    resources  = ["awsloadbalancerparameters", "gcploadbalancerparameters", "haproxyparameters"]
    verbs      = ["get", "list", "watch"]
  }

  # Leader election renews the Lease with a patch.
  rule {
    api_groups = ["coordination.k8s.io"]
    resources  = ["leases"]
    verbs      = ["get", "create", "update", "patch"]
  }
}

resource "kubernetes_cluster_role_binding_v1" "portico" {
  metadata {
    name = "portico"
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = kubernetes_cluster_role_v1.portico.metadata[0].name
  }

  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.portico.metadata[0].name
    namespace = kubernetes_namespace_v1.portico.metadata[0].name
  }
}

resource "kubernetes_deployment_v1" "portico" {
  metadata {
    name      = "portico"
    namespace = kubernetes_namespace_v1.portico.metadata[0].name
    labels = {
      "app.kubernetes.io/name" = "portico"
    }
  }

  spec {
    replicas = 2

    selector {
      match_labels = {
        "app.kubernetes.io/name" = "portico"
      }
    }

    template {
      metadata {
        labels = {
          "app.kubernetes.io/name" = "portico"
        }
      }

      spec {
        service_account_name = kubernetes_service_account_v1.portico.metadata[0].name

        security_context {
          run_as_non_root = true
          run_as_user     = 65532
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name    = "portico"
          image   = var.portico_image
          command = ["portico"]
          # Two replicas, one leader: only the Lease holder talks to AWS and writes status.
          args = [
            "run",
            "--provider", "aws",
            "--cluster-name", var.cluster_name,
            "--aws-region", var.region,
            "--leader-elect",
            "--lease-namespace", kubernetes_namespace_v1.portico.metadata[0].name,
            "--metrics-address", "0.0.0.0:9090",
            "--log-format", "json",
          ]

          port {
            name           = "metrics"
            container_port = 9090
          }

          readiness_probe {
            http_get {
              path = "/readyz"
              port = "metrics"
            }
          }

          liveness_probe {
            http_get {
              path = "/healthz"
              port = "metrics"
            }
            initial_delay_seconds = 10
          }

          resources {
            requests = {
              cpu    = "50m"
              memory = "64Mi"
            }
            limits = {
              memory = "256Mi"
            }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "state"
            mount_path = "/tmp/portico"
          }
        }

        volume {
          name = "state"
          empty_dir {}
        }
      }
    }
  }

  depends_on = [kubernetes_cluster_role_binding_v1.portico, aws_iam_role_policy_attachment.portico]
}

# kubernetes_manifest reads the CRD schemas while planning: these two need the CRDs applied first.
resource "kubernetes_manifest" "aws_parameters" {
  manifest = {
    apiVersion = "portico.dev/v1alpha1"
    kind       = "AWSLoadBalancerParameters"
    metadata = {
      name      = "default"
      namespace = kubernetes_namespace_v1.portico.metadata[0].name
    }
    spec = {
      scheme     = "internet-facing"
      targetType = "ip"
      # Subnets carrying the scheme's role tag (`kubernetes.io/role/elb`) and these tags.
      subnets = {
        tags = {
          "kubernetes.io/cluster/${var.cluster_name}" = "shared"
        }
      }
      securityGroups = {
        sourceRanges = var.source_ranges
      }
    }
  }
}

resource "kubernetes_manifest" "gateway_class" {
  manifest = {
    apiVersion = "gateway.networking.k8s.io/v1"
    kind       = "GatewayClass"
    metadata = {
      name = "portico-aws"
    }
    spec = {
      controllerName = "portico.dev/aws"
      parametersRef = {
        group     = "portico.dev"
        kind      = "AWSLoadBalancerParameters"
        name      = "default"
        namespace = kubernetes_namespace_v1.portico.metadata[0].name
      }
    }
  }

  depends_on = [kubernetes_manifest.aws_parameters]
}
