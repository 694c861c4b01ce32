variable "environment" {
  description = "Environment whose AWS account this bootstrap prepares."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod"], var.environment)
    error_message = "environment is one of dev, stage, prod."
  }
}

variable "aws_account_id" {
  description = "The environment's AWS account; the provider refuses to act in any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id is a 12-digit AWS account id."
  }
}

variable "region" {
  description = "AWS region of the state bucket."
  type        = string
  default     = "eu-central-1"
}

variable "gitlab_url" {
  description = "Issuer URL of the GitLab instance whose CI jobs run Terraform."
  type        = string
  default     = "https://gitlab.com"
}

variable "gitlab_project_path" {
  description = "GitLab project whose pipelines may plan and apply."
  type        = string
  default     = "tenon/runtime"
}

variable "apply_branch" {
  description = "The only branch whose pipelines may apply."
  type        = string
  default     = "main"
}
