# Provider versions are pinned exactly in each root module (envs/*); a module
# only names the providers it needs.
terraform {
  required_providers {
    gitlab = {
      source = "gitlabhq/gitlab"
    }
  }
}
