# Portico installed with plain Kubernetes resources (there is no Helm chart yet). The CRDs are not
# managed here: apply them with `portico crds ... | kubectl apply -f -` first (../README.md).

resource "kubernetes_namespace_v1" "portico" {
  metadata {
    name = "portico-system"
  }

  depends_on = [google_container_node_pool.default]
}

# Workload Identity: GKE's metadata server hands pods of this service account tokens of the
# operator's Google service account (iam.tf binds the two).
resource "kubernetes_service_account_v1" "portico" {
  metadata {
    name      = "portico"
    namespace = kubernetes_namespace_v1.portico.metadata[0].name

    annotations = {
      "iam.gke.io/gcp-service-account" = google_service_account.portico.email
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
          # Two replicas, one leader: only the Lease holder talks to Google Cloud and writes
          # status. The project, scope and network come from the GCPLoadBalancerParameters below;
          # credentials from the GKE metadata server (Workload Identity).
          args = [
            "run",
            "--provider", "gcp",
            "--cluster-name", var.cluster_name,
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

  depends_on = [
    kubernetes_cluster_role_binding_v1.portico,
    google_project_iam_member.portico,
    google_service_account_iam_member.portico_workload_identity,
  ]
}

# kubernetes_manifest reads the CRD schemas while planning: these two need the CRDs applied first.
resource "kubernetes_manifest" "gcp_parameters" {
  manifest = {
    apiVersion = "portico.dev/v1alpha1"
    kind       = "GCPLoadBalancerParameters"
    metadata = {
      name      = "default"
      namespace = kubernetes_namespace_v1.portico.metadata[0].name
    }
    spec = {
      project = var.project
      # A global external Application Load Balancer (Envoy based); regional scopes use the
      # proxy-only subnetwork of network.tf.
      scope   = "GlobalExternalManaged"
      network = google_compute_network.this.name
      # The firewall rules Portico opens for Google's health checks and proxies apply to the nodes.
      firewallTargets = {
        networkTags = [local.node_tag]
      }
    }
  }
}

resource "kubernetes_manifest" "gateway_class" {
  manifest = {
    apiVersion = "gateway.networking.k8s.io/v1"
    kind       = "GatewayClass"
    metadata = {
      name = "portico-gcp"
    }
    spec = {
      controllerName = "portico.dev/gcp"
      parametersRef = {
        group     = "portico.dev"
        kind      = "GCPLoadBalancerParameters"
        name      = "default"
        namespace = kubernetes_namespace_v1.portico.metadata[0].name
      }
    }
  }

  depends_on = [kubernetes_manifest.gcp_parameters]
}
