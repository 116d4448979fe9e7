# A custom-mode VPC network with one subnetwork for the nodes (with secondary ranges for pods and
# Services: the cluster is VPC-native, so pod addresses are alias IPs of the nodes, which is what
# the zonal NEGs Portico fills hold) and a proxy-only subnetwork for the regional scopes.

resource "google_compute_network" "this" {
  name                    = var.cluster_name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "nodes" {
  name                     = "${var.cluster_name}-nodes"
  network                  = google_compute_network.this.id
  region                   = var.region
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }
}

# Regional external and internal Application Load Balancers (and regional proxy Network Load
# Balancers) run their Envoy proxies in this range; the global scopes do not use it.
resource "google_compute_subnetwork" "proxy_only" {
  name          = "${var.cluster_name}-proxy-only"
  network       = google_compute_network.this.id
  region        = var.region
  ip_cidr_range = var.proxy_only_cidr
  purpose       = "REGIONAL_MANAGED_PROXY"
  role          = "ACTIVE"
}
