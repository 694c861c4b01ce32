variable "name" {
  description = "Identifier of the database instance and prefix of its resources, e.g. tenon-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the database subnet group."
  type        = list(string)
}

variable "client_security_group_id" {
  description = "The only security group admitted on port 5432: the cluster's node security group."
  type        = string
}

variable "instance_class" {
  description = "RDS instance class, e.g. db.m7g.large."
  type        = string
}

variable "allocated_storage_gib" {
  description = "Initial storage of the instance."
  type        = number
}

variable "max_allocated_storage_gib" {
  description = "Upper bound of storage autoscaling."
  type        = number
}

variable "backup_retention_days" {
  description = "Days automated backups are kept."
  type        = number

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "Automated backups are kept between 7 and 35 days."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30
}
