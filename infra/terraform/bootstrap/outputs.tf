output "state_bucket" {
  description = "Bucket of the environment's Terraform state (backend bucket of envs/<env>)."
  value       = aws_s3_bucket.state.bucket
}

output "state_kms_key_arn" {
  description = "KMS key of the Terraform state (alias alias/tenon-terraform-state)."
  value       = aws_kms_key.state.arn
}

output "plan_role_arn" {
  description = "Role of the CI plan jobs of this environment."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "Role of the CI apply job of this environment."
  value       = aws_iam_role.apply.arn
}

output "audit_trail_bucket" {
  description = "Bucket of the account's CloudTrail audit trail."
  value       = aws_s3_bucket.audit.bucket
}
