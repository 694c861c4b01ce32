# One environment of TENON = this stack (RFC-16 IAC-4, ENV-1). dev, stage and
# prod run this same file with their own terraform.tfvars.

locals {
  name = "tenon-${var.environment}"

  tags = {
    Environment = var.environment
    Service     = "runtime-api"
    ManagedBy   = "terraform"
    Repository  = "https://gitlab.com/tenon/runtime"
  }

  # Retention and recovery settings are audit and safety properties: the same
  # in every environment, so they are constants here and not tfvars.
  log_retention_days                = 365
  backup_retention_days             = 14
  noncurrent_version_retention_days = 90
  kms_deletion_window_days          = 30
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = local.tags
  }
}

# Authenticates with GITLAB_TOKEN, a project access token of the prod apply
# job only (see README.md).
provider "gitlab" {
  base_url = "https://gitlab.com/api/v4/"
}

module "network" {
  source = "../../modules/network"

  name                     = local.name
  vpc_cidr                 = var.vpc_cidr
  subnets                  = var.subnets
  flow_log_retention_days  = local.log_retention_days
  kms_deletion_window_days = local.kms_deletion_window_days
}

module "cluster" {
  source = "../../modules/cluster"

  name                     = local.name
  kubernetes_version       = var.kubernetes_version
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  node_instance_types      = var.node_instance_types
  node_scaling             = var.node_scaling
  node_volume_size_gib     = var.node_volume_size_gib
  log_retention_days       = local.log_retention_days
  kms_deletion_window_days = local.kms_deletion_window_days
}

module "database" {
  source = "../../modules/database"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_id  = module.cluster.node_security_group_id
  instance_class            = var.database_instance_class
  allocated_storage_gib     = var.database_storage_gib.allocated
  max_allocated_storage_gib = var.database_storage_gib.max
  backup_retention_days     = local.backup_retention_days
  kms_deletion_window_days  = local.kms_deletion_window_days
}

module "object_storage" {
  source = "../../modules/object_storage"

  name                              = local.name
  noncurrent_version_retention_days = local.noncurrent_version_retention_days
  access_log_retention_days         = local.log_retention_days
  kms_deletion_window_days          = local.kms_deletion_window_days
}

module "secrets" {
  source = "../../modules/secrets"

  name                     = local.name
  environment              = var.environment
  kms_deletion_window_days = local.kms_deletion_window_days
}

module "identity" {
  source = "../../modules/identity"

  name                = local.name
  cluster_name        = module.cluster.cluster_name
  namespace           = "tenon"
  service_account     = "runtime-api"
  bucket_arn          = module.object_storage.bucket_arn
  object_prefix       = "runtime-api/"
  objects_kms_key_arn = module.object_storage.kms_key_arn
  secret_arns         = module.secrets.secret_arns
  secrets_kms_key_arn = module.secrets.kms_key_arn
  gitlab_project_path = "tenon/runtime"
  deploy_branch       = "main"
}

# The GitLab project's governance (branch protection, approvals, protected
# environments) is one set of settings for the whole project, so exactly one
# stack owns it: prod, whose apply already needs the strictest approvals. A
# change that weakens governance therefore waits for the same approvals as a
# production change. The condition is here, not in tfvars, so that no tfvars
# edit can move or drop it.
module "governance" {
  source = "../../modules/governance"
  count  = var.environment == "prod" ? 1 : 0

  group_path      = "tenon"
  project_name    = "runtime"
  default_branch  = "main"
  merge_approvals = 2
}
