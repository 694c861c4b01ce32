variable "name" {
  description = "Name prefix of every network resource, e.g. tenon-prod."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "subnets" {
  description = "One entry per availability zone (the key): the CIDR of its private subnet (workloads, database) and of its public subnet (NAT gateway only)."
  type = map(object({
    private_cidr = string
    public_cidr  = string
  }))

  validation {
    condition     = length(var.subnets) == 3
    error_message = "The network spans exactly three availability zones."
  }
}

variable "flow_log_retention_days" {
  description = "Days the VPC flow logs are kept in CloudWatch Logs."
  type        = number

  validation {
    condition     = var.flow_log_retention_days >= 365
    error_message = "Flow logs are audit evidence and are kept at least 365 days."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30
}
