output "secret_arns" {
  description = "ARNs of the runtime's secrets, by name suffix (e.g. database)."
  value       = { for key, secret in aws_secretsmanager_secret.runtime : key => secret.arn }
}

output "secret_names" {
  description = "Names of the runtime's secrets, by name suffix (e.g. database)."
  value       = { for key, secret in aws_secretsmanager_secret.runtime : key => secret.name }
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the runtime's secrets."
  value       = aws_kms_key.secrets.arn
}
