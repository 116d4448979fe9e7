variable "region" {
  description = "AWS region of the VPC, the EKS cluster and every load balancer Portico creates."
  type        = string
  default     = "eu-west-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster; also the value of the `portico.dev/cluster` tag Portico's IAM rights are scoped to."
  type        = string
  default     = "portico-test"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,37}$", var.cluster_name))
    error_message = "cluster_name must be lowercase letters, digits and dashes, starting with a letter, at most 38 characters."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS control plane and its node group."
  type        = string
  default     = "1.34"
}

variable "portico_image" {
  description = "Container image of the operator; it must have the `portico` binary on its PATH."
  type        = string
}

variable "node_instance_type" {
  description = "EC2 instance type of the two worker nodes."
  type        = string
  default     = "t3.medium"
}

variable "source_ranges" {
  description = "CIDR ranges allowed to reach the load balancers' listener ports and the public EKS API endpoint (narrow this to your own address)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "vpc_cidr" {
  description = "Address range of the test VPC; each subnet takes a /24 of it."
  type        = string
  default     = "10.42.0.0/16"
}
