# TENON's PostgreSQL database (RFC-16 IAC-3). Private, encrypted with its own
# key, TLS enforced by the server, IAM authentication available, and the
# master password generated and kept by RDS in Secrets Manager: no password
# exists in this repository or in the Terraform state (SEC-1, THR-6).

locals {
  engine_version = "17.5"
  family         = "postgres17"
  port           = 5432
}

resource "aws_kms_key" "database" {
  description             = "${var.name} database storage, master secret and Performance Insights"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
}

resource "aws_kms_alias" "database" {
  name          = "alias/${var.name}-database"
  target_key_id = aws_kms_key.database.key_id
}

resource "aws_db_subnet_group" "this" {
  name        = "${var.name}-database"
  description = "Private subnets of ${var.name}'s database"
  subnet_ids  = var.subnet_ids
}

# Ingress on 5432 from the cluster's nodes only; no egress rule, so the
# database opens no connection of its own.
resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "PostgreSQL of ${var.name}: port 5432 from the cluster nodes only"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name}-database"
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres_from_nodes" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the EKS nodes"
  referenced_security_group_id = var.client_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name}-${local.family}"
  family      = local.family
  description = "${var.name}: TLS only, SCRAM passwords, connections logged"

  # The server refuses any connection that is not TLS.
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "ssl_min_protocol_version"
    value        = "TLSv1.2"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "password_encryption"
    value        = "scram-sha-256"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "log_connections"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "log_disconnections"
    value        = "1"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = local.engine_version
  instance_class = var.instance_class
  port           = local.port
  db_name        = "tenon"
  username       = "tenon_admin"

  # RDS generates the master password and keeps it in Secrets Manager,
  # encrypted with this stack's key; Terraform never sees it.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.database.arn

  iam_database_authentication_enabled = true
  parameter_group_name                = aws_db_parameter_group.this.name
  ca_cert_identifier                  = "rds-ca-rsa2048-g1"

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = true
  network_type           = "IPV4"

  storage_type          = "gp3"
  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.database.arn

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  # Minor versions move through a reviewed change of engine_version, never
  # on their own (INV-4.1).
  auto_minor_version_upgrade = false
  apply_immediately          = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.database.arn
  performance_insights_retention_period = 7

  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
}
