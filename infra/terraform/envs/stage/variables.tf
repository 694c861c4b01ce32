# Environments differ only through terraform.tfvars, and only in names, sizes,
# counts and address ranges. Every security setting lives in main.tf or in the
# modules and is therefore the same in dev, stage and prod (RFC-16 THR-1).

variable "environment" {
  description = "Environment of this stack."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod"], var.environment)
    error_message = "environment is one of dev, stage, prod."
  }
}

variable "aws_account_id" {
  description = "The AWS account of this environment; the provider refuses to act in any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id is a 12-digit AWS account id."
  }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string

  validation {
    condition     = var.region == "eu-central-1"
    error_message = "TENON runs in eu-central-1."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the environment's VPC."
  type        = string
}

variable "subnets" {
  description = "Per availability zone: CIDR of the private subnet and of the NAT-only public subnet."
  type = map(object({
    private_cidr = string
    public_cidr  = string
  }))
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS control plane."
  type        = string
}

variable "node_instance_types" {
  description = "EC2 instance types of the runtime node group."
  type        = list(string)
}

variable "node_scaling" {
  description = "Minimum, desired and maximum number of runtime nodes."
  type = object({
    min     = number
    desired = number
    max     = number
  })
}

variable "node_volume_size_gib" {
  description = "Data volume size of each node."
  type        = number
}

variable "database_instance_class" {
  description = "RDS instance class of the runtime's database."
  type        = string
}

variable "database_storage_gib" {
  description = "Initial and maximum (autoscaled) storage of the database."
  type = object({
    allocated = number
    max       = number
  })
}
