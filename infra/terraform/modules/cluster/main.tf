# TENON's Kubernetes cluster (RFC-16 IAC-3, ORC-1). Nobody reaches a node:
# the API endpoint is private, nodes run Bottlerocket (no SSH server) with the
# admin and control host containers disabled (no SSH, no SSM session), no EC2
# key pair, no remote access block, and the node role cannot register with SSM
# (INV-2.1, MIT-3, THR-3, ACC-2). Authentication is by EKS access entries only;
# the one entry (the CI deploy role) is made by the identity module.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition      = data.aws_partition.current.partition
  account_id     = data.aws_caller_identity.current.account_id
  log_group_name = "/aws/eks/${var.name}/cluster"
  log_group_arn  = "arn:${local.partition}:logs:${data.aws_region.current.region}:${local.account_id}:log-group:${local.log_group_name}"

  # Every control plane log type EKS offers (MIT-2, TST-F1).
  control_plane_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  # The node role gets exactly these AWS managed policies; in particular never
  # AmazonSSMManagedInstanceCore, which would open a session path to nodes.
  node_policies = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ])

  # Bottlerocket settings (TOML). EKS merges its own cluster settings into
  # this document. Both host containers are off in every environment: the
  # admin container is the only SSH path into Bottlerocket, and the control
  # container is the SSM agent (INV-2.1, THR-3). Kernel lockdown (integrity)
  # keeps the running kernel from being modified, even by root on the node.
  bottlerocket_settings = <<-TOML
    [settings.host-containers.admin]
    enabled = false

    [settings.host-containers.control]
    enabled = false

    [settings.kernel]
    lockdown = "integrity"
  TOML
}

# --- Keys and logs

resource "aws_kms_key" "secrets" {
  description             = "${var.name} EKS secrets envelope encryption"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name}-eks-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_kms_key" "logs" {
  description             = "${var.name} EKS control plane logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.logs_key.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-eks-logs"
  target_key_id = aws_kms_key.logs.key_id
}

data "aws_iam_policy_document" "logs_key" {
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsTheClusterLogGroup"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn]
    }
  }
}

# Created before the cluster so that EKS writes into a group with our
# retention and key instead of creating an unencrypted one.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

# --- Control plane

data "aws_iam_policy_document" "cluster_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-eks-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_trust.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# Envelope encryption of Kubernetes secrets with this cluster's key only.
data "aws_iam_policy_document" "cluster_encryption" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [aws_kms_key.secrets.arn]
  }
}

resource "aws_iam_role_policy" "cluster_encryption" {
  name   = "encrypt-kubernetes-secrets"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_encryption.json
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = local.control_plane_log_types

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = false
  }

  # Access entries only: no aws-auth ConfigMap that a kubectl edit could
  # widen, and the identity that creates the cluster gets no admin grant.
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = aws_kms_key.secrets.arn
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.cluster,
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_encryption,
  ]
}

# --- Add-ons

# Pod Identity gives the runtime its AWS role without any static credential.
resource "aws_eks_addon" "pod_identity_agent" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "eks-pod-identity-agent"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  # The agent is a DaemonSet: it becomes active once there are nodes to run on.
  depends_on = [aws_eks_node_group.runtime]
}

# --- Nodes

data "aws_iam_policy_document" "node_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-eks-node"
  assume_role_policy = data.aws_iam_policy_document.node_trust.json
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = local.node_policies

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

# No key_name and no security group of our own: the nodes join the cluster
# security group, and there is no key pair to log in with.
resource "aws_launch_template" "node" {
  name_prefix            = "${var.name}-node-"
  description            = "Bottlerocket nodes of ${var.name}: IMDSv2 only, host containers off"
  update_default_version = true
  user_data              = base64encode(local.bottlerocket_settings)

  # IMDSv2 only, and a hop limit of 1 so that pods cannot reach the node's
  # instance metadata (and through it the node role).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # Bottlerocket: /dev/xvda holds the OS, /dev/xvdb the container data.
  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = 4
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  block_device_mappings {
    device_name = "/dev/xvdb"

    ebs {
      volume_size           = var.node_volume_size_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"

    tags = {
      Name = "${var.name}-node"
    }
  }
}

resource "aws_eks_node_group" "runtime" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-runtime"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  ami_type        = "BOTTLEROCKET_x86_64"
  capacity_type   = "ON_DEMAND"
  instance_types  = var.node_instance_types

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  scaling_config {
    min_size     = var.node_scaling.min
    desired_size = var.node_scaling.desired
    max_size     = var.node_scaling.max
  }

  # Nodes are replaced, never patched in place (INV-1.2): a new launch
  # template version rolls the group one node at a time.
  update_config {
    max_unavailable = 1
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}
