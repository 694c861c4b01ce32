variable "name" {
  description = "Name prefix, e.g. tenon-prod; the runtime bucket is <name>-runtime-objects."
  type        = string
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version of the runtime bucket is kept before it expires."
  type        = number

  validation {
    condition     = var.noncurrent_version_retention_days >= 30
    error_message = "Replaced object versions are kept at least 30 days."
  }
}

variable "access_log_retention_days" {
  description = "Days the runtime bucket's access logs are kept."
  type        = number

  validation {
    condition     = var.access_log_retention_days >= 365
    error_message = "Access logs are audit evidence and are kept at least 365 days."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30
}
