output "runtime_role_arn" {
  description = "ARN of the runtime's Pod Identity role."
  value       = aws_iam_role.runtime.arn
}

output "deploy_role_arn" {
  description = "ARN of the CI deploy role (the only EKS access entry)."
  value       = aws_iam_role.deploy.arn
}
