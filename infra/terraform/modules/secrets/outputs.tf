output "secret_arns" {
  description = "ARNs of the runtime's secrets, by name suffix (e.g. database)."
  value       = { for key in keys(local.secrets) : key => aws_secretsmanager_secret.runtime[key].arn }
}

output "secret_names" {
  description = "Names of the runtime's secrets, by name suffix (e.g. database)."
  value       = { for key in keys(local.secrets) : key => aws_secretsmanager_secret.runtime[key].name }
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the runtime's secrets."
  value       = aws_kms_key.secrets.arn
}
