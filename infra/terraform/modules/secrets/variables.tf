variable "name" {
  description = "Name prefix of the key, e.g. tenon-prod."
  type        = string
}

variable "environment" {
  description = "Environment whose secrets these are; secret names are tenon/<environment>/runtime-api/<secret>."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod"], var.environment)
    error_message = "environment is one of dev, stage, prod."
  }
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days >= 7 && var.recovery_window_days <= 30
    error_message = "Secrets Manager accepts a recovery window of 7 to 30 days."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30
}
