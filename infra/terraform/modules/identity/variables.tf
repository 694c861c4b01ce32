variable "name" {
  description = "Name prefix of the roles, e.g. tenon-prod."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster in which the runtime's service account lives."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the runtime."
  type        = string
  default     = "tenon"
}

variable "service_account" {
  description = "Kubernetes service account of the runtime."
  type        = string
  default     = "runtime-api"
}

variable "bucket_arn" {
  description = "ARN of the runtime bucket."
  type        = string
}

variable "object_prefix" {
  description = "Key prefix under which the runtime reads and writes objects."
  type        = string
  default     = "runtime-api/"

  validation {
    condition     = can(regex("^[a-z0-9-]+/$", var.object_prefix))
    error_message = "object_prefix is one path segment ending in a slash, without wildcards."
  }
}

variable "objects_kms_key_arn" {
  description = "ARN of the runtime bucket's KMS key."
  type        = string
}

variable "secret_arns" {
  description = "ARNs of the runtime's own Secrets Manager secrets, by name suffix (e.g. database)."
  type        = map(string)
}

variable "secrets_kms_key_arn" {
  description = "ARN of the KMS key encrypting the runtime's secrets."
  type        = string
}

variable "gitlab_url" {
  description = "Issuer URL of the GitLab instance whose CI jobs may assume the deploy role."
  type        = string
  default     = "https://gitlab.com"
}

variable "gitlab_project_path" {
  description = "GitLab project whose pipelines may assume the deploy role."
  type        = string
  default     = "tenon/runtime"
}

variable "deploy_branch" {
  description = "The only branch whose pipelines may assume the deploy role."
  type        = string
  default     = "main"
}
