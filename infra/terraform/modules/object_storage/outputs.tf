output "bucket_name" {
  description = "Name of the runtime bucket, written into the runtime's runtime.json."
  value       = aws_s3_bucket.objects.bucket
}

output "bucket_arn" {
  description = "ARN of the runtime bucket."
  value       = aws_s3_bucket.objects.arn
}

output "kms_key_arn" {
  description = "ARN of the runtime bucket's KMS key."
  value       = aws_kms_key.objects.arn
}
