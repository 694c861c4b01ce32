output "address" {
  description = "Host name of the database, written into the runtime's runtime.json."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Name of the runtime's database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed master user secret (value never leaves Secrets Manager)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "ARN of the database's KMS key."
  value       = aws_kms_key.database.arn
}
