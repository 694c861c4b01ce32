# Who may act in AWS on TENON's behalf (RFC-16 IAC-3, SEC-3, ACC-2):
#   - the runtime, through EKS Pod Identity, with least privilege on its own
#     bucket prefix, its own secrets and its own keys;
#   - the CI deploy job of the main branch of tenon/runtime, through GitLab's
#     OIDC tokens, allowed to reach this cluster's Kubernetes API (the
#     cluster's only EKS access entry) and nothing else.
# Neither has a static credential; no human principal appears here.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.region
  cluster_arn = "arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/${var.cluster_name}"
  gitlab_host = trimprefix(var.gitlab_url, "https://")
}

# --- The runtime's role (Pod Identity)

data "aws_iam_policy_document" "runtime_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    # Pod Identity tags the session with the pod's namespace and service
    # account; only tenon/runtime-api gets in, whatever association exists.
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [var.namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [var.service_account]
    }
  }
}

resource "aws_iam_role" "runtime" {
  name                 = "${var.name}-runtime-api"
  description          = "TENON runtime-api pods (namespace ${var.namespace}, service account ${var.service_account})"
  assume_role_policy   = data.aws_iam_policy_document.runtime_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "runtime" {
  # HeadBucket (the readiness probe) and listings need s3:ListBucket on the
  # bucket itself; objects stay reachable only under the runtime's prefix.
  statement {
    sid       = "ListItsBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }

  statement {
    sid       = "ReadWriteItsPrefix"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arn}/${var.object_prefix}*"]
  }

  statement {
    sid       = "ReadItsSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(var.secret_arns)
  }

  statement {
    sid       = "DecryptItsSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  # Reading an SSE-KMS object needs Decrypt; writing one needs a data key.
  statement {
    sid       = "UseItsObjectKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.objects_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "runtime" {
  name   = "runtime-api-least-privilege"
  role   = aws_iam_role.runtime.id
  policy = data.aws_iam_policy_document.runtime.json
}

# The secrets themselves also refuse every other reader: even a principal
# with broad IAM rights in the account cannot read a runtime secret's value.
data "aws_iam_policy_document" "secret_readers" {
  for_each = var.secret_arns

  statement {
    sid       = "OnlyTheRuntimeReadsTheValue"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [each.value]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.runtime.arn]
    }
  }
}

resource "aws_secretsmanager_secret_policy" "runtime" {
  for_each = var.secret_arns

  secret_arn          = each.value
  policy              = data.aws_iam_policy_document.secret_readers[each.key].json
  block_public_policy = true
}

resource "aws_eks_pod_identity_association" "runtime" {
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.runtime.arn
}

# --- The CI deploy role (GitLab OIDC)
#
# The OIDC provider for GitLab is created once per account by bootstrap/.

data "aws_iam_openid_connect_provider" "gitlab" {
  url = var.gitlab_url
}

data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [data.aws_iam_openid_connect_provider.gitlab.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only pipelines of the protected main branch; a merge request branch, a
    # tag or another project gets a different sub and is refused.
    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:sub"
      values   = ["project_path:${var.gitlab_project_path}:ref_type:branch:ref:${var.deploy_branch}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-ci-deploy"
  description          = "GitLab CI deploy jobs of ${var.gitlab_project_path} on ${var.deploy_branch}: Kubernetes API of ${var.cluster_name} only"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "FindItsCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [local.cluster_arn]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "reach-the-cluster-api"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# --- Who may talk to the Kubernetes API: the CI deploy role, nobody else
# (ACC-2, THR-3). A person who needs to see the cluster reads the audit logs
# and the pipeline, never a kubeconfig.

resource "aws_eks_access_entry" "deploy" {
  cluster_name  = var.cluster_name
  principal_arn = aws_iam_role.deploy.arn
  type          = "STANDARD"
}

# Cluster scope is needed because the deployment applies cluster-scoped
# objects (the namespace and the image admission policy).
resource "aws_eks_access_policy_association" "deploy" {
  cluster_name  = var.cluster_name
  principal_arn = aws_eks_access_entry.deploy.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}
