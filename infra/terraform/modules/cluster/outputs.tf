output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "node_security_group_id" {
  description = "Security group of the nodes (the cluster security group EKS attaches to managed nodes); the database admits only this group."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}
