output "project" {
  description = "Project of the cluster and of the load balancers Portico creates."
  value       = var.project
}

output "cluster_name" {
  description = "GKE cluster name, also Portico's --cluster-name."
  value       = google_container_cluster.this.name
}

output "cluster_location" {
  description = "Zone of the cluster and of Portico's NEGs."
  value       = google_container_cluster.this.location
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig context for the cluster (needs gke-gcloud-auth-plugin)."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.this.name} --zone ${var.zone} --project ${var.project}"
}

output "network" {
  description = "The test VPC network, the `network` of the GCPLoadBalancerParameters."
  value       = google_compute_network.this.name
}

output "proxy_only_subnetwork" {
  description = "Proxy-only subnetwork of the regional scopes."
  value       = google_compute_subnetwork.proxy_only.name
}

output "node_network_tag" {
  description = "Network tag of the nodes, the firewall target of Portico's rules."
  value       = local.node_tag
}

output "portico_service_account_email" {
  description = "Google service account the portico Kubernetes service account acts as."
  value       = google_service_account.portico.email
}

output "portico_custom_role" {
  description = "The custom role holding exactly the permissions Portico uses."
  value       = google_project_iam_custom_role.portico.name
}
