variable "project" {
  description = "ID of the Google Cloud project of the network, the cluster, the IAM and every load balancer Portico creates (preferably one used for nothing else)."
  type        = string
}

variable "region" {
  description = "Region of the subnetworks (including the proxy-only one)."
  type        = string
  default     = "europe-west1"
}

variable "zone" {
  description = "Zone of the GKE cluster and its nodes, in region; Portico's NEGs are created in it."
  type        = string
  default     = "europe-west1-b"
}

variable "cluster_name" {
  description = "Name of the GKE cluster, passed to Portico as --cluster-name; also the prefix of the network, subnetworks and service accounts."
  type        = string
  default     = "portico-test"

  # Service account IDs are at most 30 characters, and this gets `-portico` appended.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,20}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 6 to 22 lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "portico_image" {
  description = "Container image of the operator; it must have the `portico` binary on its PATH."
  type        = string
}

variable "machine_type" {
  description = "Compute Engine machine type of the two nodes."
  type        = string
  default     = "e2-standard-2"
}

variable "source_ranges" {
  description = "CIDR ranges allowed to reach the cluster's Kubernetes API (narrow this to your own address)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnetwork."
  type        = string
  default     = "10.42.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range of the nodes' subnetwork for pod addresses (the NEG endpoints)."
  type        = string
  default     = "10.44.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range of the nodes' subnetwork for Service cluster IPs."
  type        = string
  default     = "10.48.0.0/20"
}

variable "proxy_only_cidr" {
  description = "Range of the proxy-only subnetwork the regional load balancers' proxies use (a /23 or larger is recommended)."
  type        = string
  default     = "10.42.64.0/23"
}
