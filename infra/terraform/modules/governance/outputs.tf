output "project_id" {
  description = "Numeric id of the GitLab project (pinned in compliance/signing-policy.yaml)."
  value       = gitlab_project.runtime.id
}

output "protected_environments" {
  description = "Protected GitLab environments and the approvals each deployment needs."
  value       = { for name, environment in local.environments : name => environment.required_approvals }
}
