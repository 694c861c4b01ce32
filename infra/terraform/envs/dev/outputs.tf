output "cluster_name" {
  description = "Name of the environment's EKS cluster."
  value       = module.cluster.cluster_name
}

output "deploy_role_arn" {
  description = "Role the CI deploy job assumes (GitLab OIDC) to reach the cluster."
  value       = module.identity.deploy_role_arn
}

output "runtime_role_arn" {
  description = "Role of the runtime-api pods (EKS Pod Identity)."
  value       = module.identity.runtime_role_arn
}

output "runtime_secret_names" {
  description = "Secrets Manager names the SecretProviderClass runtime-api-secrets reads."
  value       = module.secrets.secret_names
}

# The non-secret part of /etc/tenon/config/runtime.json for this environment,
# so that the ConfigMap runtime-api-config can be checked against the
# infrastructure it points to.
output "runtime_config" {
  description = "Non-secret runtime configuration (runtime.json) matching this environment."
  value = {
    database = {
      host                    = module.database.address
      port                    = module.database.port
      name                    = module.database.db_name
      sslmode                 = "verify-full"
      connect_timeout_seconds = 2
    }
    object_storage = {
      bucket = module.object_storage.bucket_name
      region = var.region
    }
    listen = {
      host = "0.0.0.0"
      port = 8080
    }
  }
}
