variable "name" {
  description = "Name of the EKS cluster and prefix of its resources, e.g. tenon-prod."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane, e.g. 1.33."
  type        = string
}

variable "vpc_id" {
  description = "VPC the cluster runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the control plane network interfaces and of the nodes."
  type        = list(string)
}

variable "node_instance_types" {
  description = "EC2 instance types of the runtime node group."
  type        = list(string)
}

variable "node_scaling" {
  description = "Minimum, desired and maximum number of nodes of the runtime node group."
  type = object({
    min     = number
    desired = number
    max     = number
  })

  validation {
    condition     = var.node_scaling.min >= 2 && var.node_scaling.min <= var.node_scaling.desired && var.node_scaling.desired <= var.node_scaling.max
    error_message = "The node group keeps at least two nodes (two runtime-api replicas on separate nodes) and min <= desired <= max."
  }
}

variable "node_volume_size_gib" {
  description = "Size of each node's data volume (container images and ephemeral storage)."
  type        = number
}

variable "log_retention_days" {
  description = "Days the control plane logs (api, audit, authenticator, controllerManager, scheduler) are kept."
  type        = number

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "Control plane audit logs are kept at least 365 days."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30
}
