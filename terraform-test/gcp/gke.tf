# A zonal GKE Standard cluster with Workload Identity, and a node pool of two nodes running under
# their own minimal service account.
#
# Portico does not need GKE: it creates standalone zonal NEGs and fills them from EndpointSlices
# itself, so any VPC-native cluster on Compute Engine would do. GKE is simply the quickest way to
# get one with Workload Identity. GKE's own load balancing (the Ingress and Gateway controllers and
# their NEG controller) is switched off so that Portico is the only thing creating load balancers.

locals {
  # Network tag of the nodes: the firewall rules Portico creates for Google's health-check and
  # proxy ranges target it (`firewallTargets` in portico.tf).
  node_tag = "${var.cluster_name}-node"
}

resource "google_container_cluster" "this" {
  name     = var.cluster_name
  location = var.zone

  network         = google_compute_network.this.id
  subnetwork      = google_compute_subnetwork.nodes.id
  networking_mode = "VPC_NATIVE"

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  # Node pools are managed separately; the default one only exists while the cluster is created.
  remove_default_node_pool = true
  initial_node_count       = 1

  # A throwaway cluster: `terraform destroy` must be able to delete it.
  deletion_protection = false

  release_channel {
    channel = "REGULAR"
  }

  # Pods running as a Kubernetes service account get the Google service account it is bound to.
  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  addons_config {
    http_load_balancing {
      disabled = true
    }
  }

  # Portico installs the Gateway API CRDs itself; GKE must not manage them.
  gateway_api_config {
    channel = "CHANNEL_DISABLED"
  }

  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.source_ranges

      content {
        cidr_block   = cidr_blocks.value
        display_name = "source-range-${cidr_blocks.key}"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = startswith(var.zone, "${var.region}-")
      error_message = "zone must be a zone of region."
    }
  }
}

resource "google_service_account" "nodes" {
  account_id   = "${var.cluster_name}-nodes"
  display_name = "Nodes of GKE cluster ${var.cluster_name}"

  depends_on = [google_project_service.apis]
}

# What a node needs: write logs and metrics, pull images from Artifact Registry.
resource "google_project_iam_member" "nodes" {
  for_each = toset(["roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader"])

  project = var.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_node_pool" "default" {
  name       = "default"
  cluster    = google_container_cluster.this.id
  location   = var.zone
  node_count = 2

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.machine_type
    disk_size_gb    = 50
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    tags            = [local.node_tag]

    # The GKE metadata server: pods see their Workload Identity, never the node's account.
    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot = true
    }
  }

  depends_on = [google_project_iam_member.nodes]
}
