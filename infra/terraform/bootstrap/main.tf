# What every stack needs before its first plan, in one environment's account:
#   1. the KMS key and the versioned, private, TLS-only bucket holding the
#      Terraform state (RFC-16 IAC-2), with its access log bucket;
#   2. GitLab's OIDC provider, so that CI jobs get short-lived AWS credentials
#      from their own ID token and no static key exists anywhere;
#   3. the two roles CI runs Terraform with: plan (read-only, any branch of
#      tenon/runtime, for merge requests) and apply (main branch only);
#   4. the account's CloudTrail audit trail (audit_trail.tf).

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = local.tags
  }
}

data "aws_partition" "current" {}

locals {
  name            = "tenon-${var.environment}"
  state_bucket    = "${local.name}-terraform-state"
  state_log       = "${local.name}-terraform-state-access-logs"
  state_log_path  = "s3-access/${local.state_bucket}/"
  state_key       = "envs/${var.environment}/terraform.tfstate"
  partition       = data.aws_partition.current.partition
  gitlab_host     = trimprefix(var.gitlab_url, "https://")
  project_subject = "project_path:${var.gitlab_project_path}:ref_type:branch:ref"

  tags = {
    Environment = var.environment
    Service     = "terraform-state"
    ManagedBy   = "terraform"
    Repository  = "https://gitlab.com/tenon/runtime"
  }
}

# --- 1. State key and bucket

resource "aws_kms_key" "state" {
  description             = "${local.name} Terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  lifecycle {
    prevent_destroy = true
  }
}

# The stacks' backends name the key by this alias, the same in every account.
resource "aws_kms_alias" "state" {
  name          = "alias/tenon-terraform-state"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_s3_bucket" "state" {
  bucket = local.state_bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Every state version is kept: the history of the state is part of the audit
# trail of infrastructure changes (TST-F1), and a bad write can be undone.
resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "keep-state-history-one-year"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 365
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

resource "aws_s3_bucket_logging" "state" {
  bucket        = aws_s3_bucket.state.id
  target_bucket = aws_s3_bucket.state_access_logs.id
  target_prefix = local.state_log_path

  depends_on = [aws_s3_bucket_policy.state_access_logs]
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyAnyRequestWithoutTLS"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

# --- The state bucket's access logs
#
# S3 server access logging delivers only into a bucket whose default
# encryption is SSE-S3, hence AES256 here; the logs hold request metadata,
# never state.

resource "aws_s3_bucket" "state_access_logs" {
  bucket = local.state_log

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "state_access_logs" {
  bucket                  = aws_s3_bucket.state_access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state_access_logs" {
  bucket = aws_s3_bucket.state_access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "state_access_logs" {
  bucket = aws_s3_bucket.state_access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state_access_logs" {
  bucket = aws_s3_bucket.state_access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "state_access_logs" {
  statement {
    sid     = "S3LogDeliveryFromTheStateAndAuditBuckets"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.state_access_logs.arn}/${local.state_log_path}*",
      "${aws_s3_bucket.state_access_logs.arn}/${local.trail_log}*",
    ]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.state.arn, aws_s3_bucket.audit.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.aws_account_id]
    }
  }

  statement {
    sid       = "DenyAnyRequestWithoutTLS"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state_access_logs.arn, "${aws_s3_bucket.state_access_logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state_access_logs" {
  bucket = aws_s3_bucket.state_access_logs.id
  policy = data.aws_iam_policy_document.state_access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.state_access_logs]
}

# --- 2. GitLab's OIDC provider (one per account; the stacks look it up)

resource "aws_iam_openid_connect_provider" "gitlab" {
  url            = var.gitlab_url
  client_id_list = ["sts.amazonaws.com"]
}

# --- 3. The Terraform roles of CI

data "aws_iam_policy_document" "plan_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.gitlab.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Merge request pipelines run on their source branch: any branch of this
    # project may plan (read-only), nothing else may.
    condition {
      test     = "StringLike"
      variable = "${local.gitlab_host}:sub"
      values   = ["${local.project_subject}:*"]
    }
  }
}

data "aws_iam_policy_document" "apply_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.gitlab.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:sub"
      values   = ["${local.project_subject}:${var.apply_branch}"]
    }
  }
}

resource "aws_iam_role" "plan" {
  name                 = "${local.name}-terraform-plan"
  description          = "GitLab CI terraform plan of ${var.gitlab_project_path} (any branch): read-only"
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

# Plan reads the state and takes the lock (a .tflock object next to it).
data "aws_iam_policy_document" "plan_state" {
  statement {
    sid       = "ReadTheState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/${local.state_key}"]
  }

  statement {
    sid       = "TakeTheLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/${local.state_key}.tflock"]
  }

  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.state.arn]
  }
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "terraform-state-read-and-lock"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan_state.json
}

resource "aws_iam_role" "apply" {
  name                 = "${local.name}-terraform-apply"
  description          = "GitLab CI terraform apply of ${var.gitlab_project_path} on ${var.apply_branch} (protected environment ${var.environment})"
  assume_role_policy   = data.aws_iam_policy_document.apply_trust.json
  max_session_duration = 3600
}

# Apply creates and changes every kind of resource of the stack, IAM roles
# included, so it holds administrator rights; what limits it is who can
# assume it (main only, after the protected environment's approvals).
resource "aws_iam_role_policy_attachment" "apply_administrator" {
  role       = aws_iam_role.apply.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AdministratorAccess"
}

# What even apply must not do: remove the state's protection or rewrite who
# may assume the CI roles. Those changes go through this bootstrap.
data "aws_iam_policy_document" "apply_guardrails" {
  statement {
    sid    = "KeepTheStateProtected"
    effect = "Deny"
    actions = [
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration",
      "s3:PutBucketPublicAccessBlock",
    ]
    resources = [aws_s3_bucket.state.arn, aws_s3_bucket.state_access_logs.arn]
  }

  statement {
    sid       = "KeepTheStateKey"
    effect    = "Deny"
    actions   = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    resources = [aws_kms_key.state.arn]
  }

  statement {
    sid    = "KeepTheCIRoles"
    effect = "Deny"
    actions = [
      "iam:UpdateAssumeRolePolicy",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:DeleteRole",
    ]
    resources = [aws_iam_role.plan.arn, aws_iam_role.apply.arn]
  }

  statement {
    sid    = "KeepTheAuditTrail"
    effect = "Deny"
    actions = [
      "cloudtrail:StopLogging",
      "cloudtrail:DeleteTrail",
      "cloudtrail:UpdateTrail",
      "cloudtrail:PutEventSelectors",
    ]
    resources = [aws_cloudtrail.audit.arn]
  }

  statement {
    sid    = "KeepTheAuditRecords"
    effect = "Deny"
    actions = [
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
    ]
    resources = [aws_s3_bucket.audit.arn, "${aws_s3_bucket.audit.arn}/*"]
  }

  statement {
    sid       = "KeepTheAuditKey"
    effect    = "Deny"
    actions   = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    resources = [aws_kms_key.audit.arn]
  }

  statement {
    sid       = "KeepTheIdentityProvider"
    effect    = "Deny"
    actions   = ["iam:DeleteOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider"]
    resources = [aws_iam_openid_connect_provider.gitlab.arn]
  }
}

resource "aws_iam_role_policy" "apply_guardrails" {
  name   = "terraform-apply-guardrails"
  role   = aws_iam_role.apply.id
  policy = data.aws_iam_policy_document.apply_guardrails.json
}
