terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.36"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
  zone    = var.zone

  # Every labelable resource of this test carries this label, so a forgotten run is easy to find.
  # It is not one of the labels Portico marks its own load balancing resources with.
  default_labels = {
    "portico-terraform-test" = var.cluster_name
  }
}

# The access token of whoever runs Terraform, for the Kubernetes API of the new cluster.
data "google_client_config" "current" {}

# The cluster endpoint is only known once the cluster exists: apply the Google Cloud resources
# first (see ../README.md), then the Kubernetes ones.
provider "kubernetes" {
  host                   = "https://${google_container_cluster.this.endpoint}"
  token                  = data.google_client_config.current.access_token
  cluster_ca_certificate = base64decode(google_container_cluster.this.master_auth[0].cluster_ca_certificate)
}

# The APIs this test uses. They stay enabled on destroy: other things in the project may need them.
resource "google_project_service" "apis" {
  for_each = toset([
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
  ])

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}
