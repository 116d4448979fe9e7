# The operator's Google Cloud identity: a service account that only the Kubernetes service account
# `portico` in `portico-system` can act as (Workload Identity), holding one custom role with
# exactly the permissions the GCP provider uses.
#
# Unlike the AWS policy (scoped by Portico's ownership tags), the role is not narrowed to what
# Portico created: it applies to the whole project. Run this in a project of its own.

locals {
  # Kept equal to `portico_gcp::permissions::REQUIRED` (providers/gcp/src/permissions.rs): a test
  # fails when one has a permission the other lacks.
  portico_permissions = [
    # Addresses: reserved per Gateway, or a named one used.
    "compute.globalAddresses.create",
    "compute.globalAddresses.delete",
    "compute.globalAddresses.get",
    "compute.globalAddresses.list",
    "compute.globalAddresses.use",
    "compute.addresses.create",
    "compute.addresses.delete",
    "compute.addresses.get",
    "compute.addresses.list",
    "compute.addresses.use",
    # Forwarding rules, one per listener port.
    "compute.globalForwardingRules.create",
    "compute.globalForwardingRules.delete",
    "compute.globalForwardingRules.get",
    "compute.globalForwardingRules.list",
    "compute.globalForwardingRules.setLabels",
    "compute.globalForwardingRules.setTarget",
    "compute.forwardingRules.create",
    "compute.forwardingRules.delete",
    "compute.forwardingRules.get",
    "compute.forwardingRules.list",
    "compute.forwardingRules.setLabels",
    "compute.forwardingRules.setTarget",
    # Target proxies.
    "compute.targetHttpProxies.create",
    "compute.targetHttpProxies.delete",
    "compute.targetHttpProxies.get",
    "compute.targetHttpProxies.list",
    "compute.targetHttpProxies.update",
    "compute.targetHttpProxies.use",
    "compute.targetHttpsProxies.create",
    "compute.targetHttpsProxies.delete",
    "compute.targetHttpsProxies.get",
    "compute.targetHttpsProxies.list",
    "compute.targetHttpsProxies.update",
    "compute.targetHttpsProxies.use",
    "compute.targetTcpProxies.create",
    "compute.targetTcpProxies.delete",
    "compute.targetTcpProxies.get",
    "compute.targetTcpProxies.list",
    "compute.targetTcpProxies.use",
    "compute.regionTargetHttpProxies.create",
    "compute.regionTargetHttpProxies.delete",
    "compute.regionTargetHttpProxies.get",
    "compute.regionTargetHttpProxies.list",
    "compute.regionTargetHttpProxies.update",
    "compute.regionTargetHttpProxies.use",
    "compute.regionTargetHttpsProxies.create",
    "compute.regionTargetHttpsProxies.delete",
    "compute.regionTargetHttpsProxies.get",
    "compute.regionTargetHttpsProxies.list",
    "compute.regionTargetHttpsProxies.update",
    "compute.regionTargetHttpsProxies.use",
    "compute.regionTargetTcpProxies.create",
    "compute.regionTargetTcpProxies.delete",
    "compute.regionTargetTcpProxies.get",
    "compute.regionTargetTcpProxies.list",
    "compute.regionTargetTcpProxies.use",
    # URL maps.
    "compute.urlMaps.create",
    "compute.urlMaps.delete",
    "compute.urlMaps.get",
    "compute.urlMaps.list",
    "compute.urlMaps.update",
    "compute.urlMaps.use",
    "compute.regionUrlMaps.create",
    "compute.regionUrlMaps.delete",
    "compute.regionUrlMaps.get",
    "compute.regionUrlMaps.list",
    "compute.regionUrlMaps.update",
    "compute.regionUrlMaps.use",
    # Backend services and health checks, one per Service port.
    "compute.backendServices.create",
    "compute.backendServices.delete",
    "compute.backendServices.get",
    "compute.backendServices.list",
    "compute.backendServices.update",
    "compute.backendServices.use",
    "compute.backendServices.setSecurityPolicy",
    "compute.regionBackendServices.create",
    "compute.regionBackendServices.delete",
    "compute.regionBackendServices.get",
    "compute.regionBackendServices.list",
    "compute.regionBackendServices.update",
    "compute.regionBackendServices.use",
    "compute.regionBackendServices.setSecurityPolicy",
    "compute.healthChecks.create",
    "compute.healthChecks.delete",
    "compute.healthChecks.get",
    "compute.healthChecks.list",
    "compute.healthChecks.update",
    "compute.healthChecks.useReadOnly",
    "compute.regionHealthChecks.create",
    "compute.regionHealthChecks.delete",
    "compute.regionHealthChecks.get",
    "compute.regionHealthChecks.list",
    "compute.regionHealthChecks.update",
    "compute.regionHealthChecks.useReadOnly",
    # Standalone zonal NEGs filled from EndpointSlices.
    "compute.networkEndpointGroups.create",
    "compute.networkEndpointGroups.delete",
    "compute.networkEndpointGroups.get",
    "compute.networkEndpointGroups.list",
    "compute.networkEndpointGroups.use",
    "compute.networkEndpointGroups.attachNetworkEndpoints",
    "compute.networkEndpointGroups.detachNetworkEndpoints",
    "compute.instances.use",
    # Certificates from Secrets.
    "compute.sslCertificates.create",
    "compute.sslCertificates.delete",
    "compute.sslCertificates.get",
    "compute.sslCertificates.list",
    "compute.regionSslCertificates.create",
    "compute.regionSslCertificates.delete",
    "compute.regionSslCertificates.get",
    "compute.regionSslCertificates.list",
    # Firewall rules for Google's health-check and proxy ranges.
    "compute.firewalls.create",
    "compute.firewalls.delete",
    "compute.firewalls.get",
    "compute.firewalls.list",
    "compute.firewalls.update",
    "compute.networks.updatePolicy",
    "compute.networks.use",
    "compute.subnetworks.use",
    # Waiting on operations.
    "compute.globalOperations.get",
    "compute.regionOperations.get",
    "compute.zoneOperations.get",
    # Named policies the parameters may reference.
    "compute.sslPolicies.use",
    "compute.regionSslPolicies.use",
    "compute.securityPolicies.use",
    "compute.regionSecurityPolicies.use",
    "certificatemanager.certmaps.use",
  ]
}

resource "google_service_account" "portico" {
  account_id   = "${var.cluster_name}-portico"
  display_name = "Portico operator of GKE cluster ${var.cluster_name}"
  description  = "Workload Identity of portico-system/portico; creates and deletes load balancers"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_custom_role" "portico" {
  # Role IDs allow letters, digits, underscores and dots, not dashes.
  role_id     = "portico_${replace(var.cluster_name, "-", "_")}"
  title       = "Portico operator (${var.cluster_name})"
  description = "What the Portico operator of ${var.cluster_name} may do in Compute Engine and Certificate Manager"
  stage       = "GA"
  permissions = local.portico_permissions

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "portico" {
  project = var.project
  role    = google_project_iam_custom_role.portico.name
  member  = "serviceAccount:${google_service_account.portico.email}"
}

# Workload Identity: only this one Kubernetes service account may impersonate the operator's
# account. The identity pool exists once the cluster does.
resource "google_service_account_iam_member" "portico_workload_identity" {
  service_account_id = google_service_account.portico.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[portico-system/portico]"

  depends_on = [google_container_cluster.this]
}
