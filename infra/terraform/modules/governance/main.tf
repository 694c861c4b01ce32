# The GitLab project tenon/runtime as code (RFC-16 MIT-1, IAC-5, IAC-6,
# FLOW-1, THR-4, INV-2.2). Every change reaches main through a merge request
# that passed its pipeline and was approved by the code owners and by
# reviewers other than its author and committers; nobody pushes to main; and
# a deployment to stage or prod waits for approvals in the protected
# environment. The signing identity (compliance/signing-policy.yaml) names
# .gitlab-ci.yml on refs/heads/main, so both are pinned here as well.

locals {
  # Who deploys and who must approve, per GitLab environment. The pipeline's
  # deploy jobs use exactly these environment names. GitLab never lets the
  # person who started a deployment approve it.
  environments = {
    dev = {
      required_approvals = 0
    }
    stage = {
      required_approvals = 1
    }
    prod = {
      required_approvals = 2
    }
  }
}

data "gitlab_group" "owner" {
  full_path = var.group_path
}

resource "gitlab_project" "runtime" {
  name             = var.project_name
  path             = var.project_name
  namespace_id     = data.gitlab_group.owner.group_id
  description      = "TENON runtime: deployment, infrastructure as code and the RFC-16 compliance suite"
  visibility_level = "private"
  default_branch   = var.default_branch

  # The Sigstore identity of the image is this file on this branch.
  ci_config_path = ".gitlab-ci.yml"

  # Merge requests are the only way in, and only when green and settled.
  merge_method                                     = "ff"
  squash_option                                    = "default_off"
  only_allow_merge_if_pipeline_succeeds            = true
  allow_merge_on_skipped_pipeline                  = false
  only_allow_merge_if_all_discussions_are_resolved = true
  resolve_outdated_diff_discussions                = false
  remove_source_branch_after_merge                 = true
  merge_pipelines_enabled                          = true

  # An older deployment job never overwrites a newer one.
  ci_forward_deployment_enabled = true

  # GitLab-hosted runners start a fresh VM per job and keep no credential;
  # every cloud credential is a short-lived OIDC token of the job itself.
  # (Deploy jobs need a runner inside the environment's VPC, because the
  # cluster's API endpoint is private; see infra/terraform/README.md.)
  shared_runners_enabled = true
  public_builds          = false
  request_access_enabled = false
  forking_access_level   = "disabled"

  push_rules {
    prevent_secrets        = true
    commit_committer_check = true
    member_check           = true
    deny_delete_tag        = true
  }

  # The project is adopted once (see infra/terraform/README.md), never
  # created or destroyed from here.
  lifecycle {
    prevent_destroy = true
  }
}

resource "gitlab_branch_protection" "default" {
  project                      = gitlab_project.runtime.id
  branch                       = var.default_branch
  push_access_level            = "no one"
  merge_access_level           = "maintainer"
  unprotect_access_level       = "maintainer"
  allow_force_push             = false
  code_owner_approval_required = true

  lifecycle {
    prevent_destroy = true
  }
}

resource "gitlab_project_level_mr_approvals" "runtime" {
  project                                        = gitlab_project.runtime.id
  reset_approvals_on_push                        = true
  disable_overriding_approvers_per_merge_request = true
  merge_requests_author_approval                 = false
  merge_requests_disable_committers_approval     = true
}

resource "gitlab_project_approval_rule" "reviewers" {
  project                           = gitlab_project.runtime.id
  name                              = "Reviewers"
  rule_type                         = "regular"
  approvals_required                = var.merge_approvals
  group_ids                         = [data.gitlab_group.owner.group_id]
  applies_to_all_protected_branches = true
}

resource "gitlab_project_environment" "deploy" {
  for_each = local.environments

  project             = gitlab_project.runtime.id
  name                = each.key
  stop_before_destroy = true
}

resource "gitlab_project_protected_environment" "deploy" {
  for_each = local.environments

  project     = gitlab_project.runtime.id
  environment = gitlab_project_environment.deploy[each.key].name

  deploy_access_levels {
    access_level = "maintainer"
  }

  approval_rules = each.value.required_approvals > 0 ? [
    {
      access_level       = "maintainer"
      required_approvals = each.value.required_approvals
    },
  ] : []
}
