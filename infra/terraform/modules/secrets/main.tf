# The runtime's secrets (RFC-16 SEC-1, SEC-3): Terraform creates the secret
# containers, their key and their names, never a value. No
# aws_secretsmanager_secret_version exists here on purpose: a value in this
# configuration would land in the repository or the state (THR-6). Values are
# written by the database credential rotation described in the README and
# reach the pods only as files mounted by the Secrets Store CSI driver.

locals {
  # Secret name suffix => what the secret holds. The same set in every
  # environment; only the <environment> segment of the name differs.
  secrets = {
    database = "Login of the runtime's database user, JSON {\"username\", \"password\"}; mounted as db-username and db-password"
  }
}

resource "aws_kms_key" "secrets" {
  description             = "${var.name} runtime secrets"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name}-runtime-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_secretsmanager_secret" "runtime" {
  for_each = local.secrets

  name                    = "tenon/${var.environment}/runtime-api/${each.key}"
  description             = each.value
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
}
