# Terraform and every provider are pinned to one exact version: a plan is
# reproducible only when the same binaries evaluate it (RFC-16 TST-P2), and a
# provider upgrade is a reviewed change of this file, applied dev -> stage ->
# prod. The provider checksums belong in .terraform.lock.hcl next to this
# file (see README.md, known limitations).
#
# The backend is the only part of the stacks' .tf files that differs between
# environments: each environment keeps its state in its own account's bucket
# (created by bootstrap/), under its own key.
terraform {
  required_version = "1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.27.0"
    }
    gitlab = {
      source  = "gitlabhq/gitlab"
      version = "18.5.0"
    }
  }

  backend "s3" {
    bucket       = "tenon-prod-terraform-state"
    key          = "envs/prod/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    kms_key_id   = "alias/tenon-terraform-state"
    use_lockfile = true
  }
}
