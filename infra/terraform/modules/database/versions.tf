# Provider versions are pinned exactly in each root module (envs/*, bootstrap);
# a module only names the providers it needs.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}
