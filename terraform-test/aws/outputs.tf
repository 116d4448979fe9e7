output "region" {
  description = "Region of the cluster and of the load balancers Portico creates."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name, also the `portico.dev/cluster` tag value on Portico's AWS resources."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint of the cluster."
  value       = aws_eks_cluster.this.endpoint
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig context for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${aws_eks_cluster.this.name}"
}

output "vpc_id" {
  description = "The test VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Subnets of internet-facing load balancers (tagged kubernetes.io/role/elb)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Subnets of the nodes and of internal load balancers (tagged kubernetes.io/role/internal-elb)."
  value       = aws_subnet.private[*].id
}

output "oidc_provider_arn" {
  description = "IAM OIDC identity provider of the cluster (IRSA)."
  value       = aws_iam_openid_connect_provider.eks.arn
}

output "portico_role_arn" {
  description = "IAM role the portico service account assumes."
  value       = aws_iam_role.portico.arn
}
