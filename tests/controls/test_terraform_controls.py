"""Terraform controls: the repository passes, and a realistic edit fails.

Each mutation is one small edit of a copy of the repository, the kind of
change a reviewer could miss; the control must fail with a finding that
names the edited file and line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome
from tests.conftest import REPO, failures, run_control

TF = "infra/terraform"
CLUSTER = f"{TF}/modules/cluster/main.tf"
DATABASE = f"{TF}/modules/database/main.tf"
NETWORK = f"{TF}/modules/network/main.tf"
STORAGE = f"{TF}/modules/object_storage/main.tf"
IDENTITY = f"{TF}/modules/identity/main.tf"
SECRETS = f"{TF}/modules/secrets/main.tf"
PROD = f"{TF}/envs/prod"

CONTROLS = sorted(c.id for c in all_controls() if c.id.startswith("TF-"))

needs_stacks = pytest.mark.skipif(
    not (REPO / TF / "envs").is_dir(), reason="the repository has no stacks yet"
)


@dataclass(frozen=True)
class Mutation:
    """Replace old by new in file; the finding names the line of ``at``."""

    control: str
    file: str
    old: str
    new: str
    message: str
    at: str | None = None
    where: str | None = None


STATEMENT = "the policy statement around the edit"
STACK = "the stack as a whole"


def apply(root: Path, mutation: Mutation) -> str:
    """Edit the copy and return the ``file:line`` the finding must name."""
    path = root / mutation.file
    text = path.read_text(encoding="utf-8")
    assert mutation.old in text, f"{mutation.file} no longer holds {mutation.old!r}"
    path.write_text(text.replace(mutation.old, mutation.new, 1), encoding="utf-8")
    where = mutation.where or mutation.file
    return f"{where}:{finding_line(root / where, mutation)}"


def finding_line(path: Path, mutation: Mutation) -> int:
    """The line the finding names: of ``at``, of the statement, or of the stack."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if mutation.at == STACK:
        return 1
    if mutation.at == STATEMENT:
        edited = next(i for i, line in enumerate(lines, 1) if mutation.new in line)
        return max(
            i for i in range(1, edited + 1) if lines[i - 1].strip() == "statement {"
        )
    marker = mutation.at or mutation.new.splitlines()[0]
    return next(i for i, line in enumerate(lines, 1) if marker in line)


MUTATIONS = [
    Mutation(
        "TF-SG-NO-ADMIN-PORTS",
        DATABASE,
        'from the cluster nodes only"',
        'from the cluster nodes only"\n  ingress = [{ protocol = "-1", from_port = 0,'
        ' to_port = 0, cidr_blocks = ["10.0.0.0/8"] }]',
        "admits SSH (ports 0-65535)",
        at="ingress = [",
    ),
    Mutation(
        "TF-NO-SECRET-LITERALS",
        f"{PROD}/variables.tf",
        "# Environments differ only",
        'variable "gitlab_token" {\n  default = "glpat-0123456789"\n}\n'
        "# Environments differ only",
        "variable gitlab_token defaults to a literal secret value",
        at='default = "glpat',
    ),
    Mutation(
        "TF-NO-SECRET-LITERALS",
        DATABASE,
        'engine_version = "17.5"',
        'engine_version = "17.5"\n  admin_password = "Sup3r-s3cret"',
        "local admin_password is set to a literal secret value",
        at="admin_password",
    ),
    Mutation(
        "TF-LINT",
        f"{TF}/modules/database/variables.tf",
        'variable "instance_class" {\n  description =',
        'variable "instance_class" {\n  # description =',
        "variable instance_class has no description",
        at='variable "instance_class"',
    ),
    Mutation(
        "TF-LINT",
        f"{PROD}/main.tf",
        "instance_class ",
        "instance_klass ",
        "module.database passes instance_klass, which module database does not declare",
    ),
    Mutation(
        "TF-STATE-REMOTE-ENCRYPTED",
        f"{PROD}/versions.tf",
        "encrypt      = true",
        "encrypt      = false",
        "backend encrypt is false",
    ),
    Mutation(
        "TF-STATE-KEYS-DISTINCT",
        f"{TF}/envs/stage/versions.tf",
        '"envs/stage/terraform.tfstate"',
        '"envs/prod/terraform.tfstate"',
        "stack stage uses state key 'envs/prod/terraform.tfstate'",
    ),
    Mutation(
        "TF-VERSIONS-PINNED",
        f"{PROD}/versions.tf",
        'version = "6.27.0"',
        'version = "~> 6.27"',
        "provider aws version is '~> 6.27'",
        at="aws = {",
    ),
    Mutation(
        "TF-VERSIONS-PINNED",
        f"{PROD}/versions.tf",
        'required_version = "1.11.4"',
        'required_version = ">= 1.11"',
        "required_version is '>= 1.11'",
    ),
    Mutation(
        "TF-MODULE-SOURCES-LOCAL",
        f"{PROD}/main.tf",
        'source = "../../modules/network"',
        'source = "terraform-aws-modules/vpc/aws"',
        "module.network has the non-local source",
    ),
    Mutation(
        "TF-STACK-MANAGES-PLATFORM",
        DATABASE,
        'resource "aws_db_instance" "this"',
        'resource "aws_db_cluster" "this"',
        "the stack manages no database",
        at=STACK,
        where=f"{PROD}/main.tf",
    ),
    Mutation(
        "TF-STACKS-SAME-CODE",
        f"{TF}/envs/dev/main.tf",
        'source = "../../modules/network"',
        'source = "../../modules/network"\n  # dev only',
        "differs from prod",
        at="# dev only",
    ),
    Mutation(
        "TF-STACKS-SAME-SECURITY",
        DATABASE,
        "deletion_protection       = true",
        'deletion_protection       = var.name == "tenon-prod"',
        "module.database.aws_db_instance.this deletion_protection differs from prod",
    ),
    Mutation(
        "TF-NO-SECRET-LITERALS",
        f"{PROD}/terraform.tfvars",
        'environment = "prod"',
        'environment = "prod"\ndb_password = "hunter2-x"',
        "tfvars sets db_password to a literal secret value",
        at="db_password",
    ),
    Mutation(
        "TF-BOOTSTRAP-STATE-BUCKET",
        f"{TF}/bootstrap/main.tf",
        'status = "Enabled"',
        'status = "Suspended"',
        "versioning status is 'Suspended'",
    ),
    Mutation(
        "TF-SG-NO-ADMIN-PORTS",
        DATABASE,
        "from_port                    = local.port",
        "from_port                    = 22",
        "admits SSH (ports 22-5432)",
        at='resource "aws_vpc_security_group_ingress',
    ),
    Mutation(
        "TF-SG-NO-OPEN-INGRESS",
        DATABASE,
        "referenced_security_group_id = var.client_security_group_id",
        'cidr_ipv4                    = "0.0.0.0/0"',
        "admits 0.0.0.0/0",
    ),
    Mutation(
        "TF-SUBNET-NO-PUBLIC-IP",
        NETWORK,
        "cidr_block              = each.value.public_cidr\n"
        "  map_public_ip_on_launch = false",
        "cidr_block              = each.value.public_cidr\n"
        "  map_public_ip_on_launch = true",
        "map_public_ip_on_launch is true",
        at="map_public_ip_on_launch = true",
    ),
    Mutation(
        "TF-VPC-FLOW-LOGS",
        NETWORK,
        'traffic_type             = "ALL"',
        'traffic_type             = "REJECT"',
        "traffic_type is 'REJECT'",
    ),
    Mutation(
        "TF-EKS-PRIVATE-ENDPOINT",
        CLUSTER,
        "endpoint_public_access  = false",
        "endpoint_public_access  = true",
        "endpoint_public_access is true",
    ),
    Mutation(
        "TF-EKS-PRIVATE-ENDPOINT",
        CLUSTER,
        "endpoint_public_access  = false",
        'endpoint_public_access  = data.aws_region.current.region == "x"',
        "endpoint_public_access cannot be resolved statically: binary",
    ),
    Mutation(
        "TF-EKS-AUTH-MODE-API",
        CLUSTER,
        'authentication_mode                         = "API"',
        'authentication_mode                         = "API_AND_CONFIG_MAP"',
        "authentication_mode is 'API_AND_CONFIG_MAP'",
    ),
    Mutation(
        "TF-EKS-CONTROL-PLANE-LOGS",
        CLUSTER,
        '["api", "audit", "authenticator"',
        '["api", "authenticator"',
        "enabled_cluster_log_types is",
        at="enabled_cluster_log_types =",
    ),
    Mutation(
        "TF-EKS-SECRETS-ENCRYPTION",
        CLUSTER,
        "key_arn = aws_kms_key.secrets.arn",
        'key_arn = "arn:aws:kms:eu-central-1:111122223333:key/shared"',
        "encryption_config key_arn is",
    ),
    Mutation(
        "TF-EKS-NODES-NO-REMOTE-ACCESS",
        CLUSTER,
        "update_default_version = true",
        'update_default_version = true\n  key_name               = "ops"',
        "module.cluster.aws_launch_template.node sets key_name",
        at='key_name               = "ops"',
    ),
    Mutation(
        "TF-EKS-NODES-IMDSV2",
        CLUSTER,
        'http_tokens                 = "required"',
        'http_tokens                 = "optional"',
        "http_tokens is 'optional'",
    ),
    Mutation(
        "TF-EKS-NODES-BOTTLEROCKET",
        CLUSTER,
        "[settings.host-containers.admin]\n    enabled = false",
        "[settings.host-containers.admin]\n    enabled = true",
        "host-containers.admin.enabled is true",
        at="user_data ",
    ),
    Mutation(
        "TF-EKS-NODE-ROLE-NO-SSM",
        CLUSTER,
        '"AmazonEKS_CNI_Policy",',
        '"AmazonEKS_CNI_Policy",\n    "AmazonSSMManagedInstanceCore",',
        "the node role has AmazonSSMManagedInstanceCore",
        at='policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"',
    ),
    Mutation(
        "TF-EKS-NO-HUMAN-ACCESS",
        IDENTITY,
        "principal_arn = aws_iam_role.deploy.arn",
        'principal_arn = "arn:aws:iam::111122223333:user/alice"',
        "principal_arn is not a role of this stack",
    ),
    Mutation(
        "TF-RDS-ENCRYPTED-PRIVATE",
        DATABASE,
        "publicly_accessible    = false",
        "publicly_accessible    = true",
        "publicly_accessible is true",
    ),
    Mutation(
        "TF-RDS-TLS-IAM-AUTH",
        DATABASE,
        'name         = "rds.force_ssl"\n    value        = "1"',
        'name         = "rds.force_ssl"\n    value        = "0"',
        "rds.force_ssl is '0'",
        at='value        = "0"',
    ),
    Mutation(
        "TF-RDS-BACKUPS-PROTECTED",
        DATABASE,
        "deletion_protection       = true",
        "deletion_protection       = false",
        "deletion_protection is false",
    ),
    Mutation(
        "TF-RDS-MANAGED-PASSWORD",
        DATABASE,
        "manage_master_user_password   = true",
        "manage_master_user_password   = false",
        "manage_master_user_password is false",
    ),
    Mutation(
        "TF-S3-NOT-PUBLIC",
        STORAGE,
        "block_public_policy     = true",
        "block_public_policy     = false",
        "block_public_policy is false",
    ),
    Mutation(
        "TF-S3-SSE-KMS",
        STORAGE,
        'sse_algorithm     = "aws:kms"',
        'sse_algorithm     = "AES256"',
        "sse_algorithm is 'AES256'",
    ),
    Mutation(
        "TF-S3-VERSIONING",
        STORAGE,
        'status = "Enabled"',
        'status = "Suspended"',
        "versioning status is 'Suspended'",
    ),
    Mutation(
        "TF-S3-TLS-ONLY",
        STORAGE,
        'variable = "aws:SecureTransport"',
        'variable = "aws:SourceIp"',
        "does not deny non-TLS requests",
        at='resource "aws_s3_bucket_policy"',
    ),
    Mutation(
        "TF-S3-ACCESS-LOGGING",
        STORAGE,
        "target_bucket = aws_s3_bucket.access_logs.id",
        'target_bucket = "central-logs"',
        "target_bucket is 'central-logs'",
    ),
    Mutation(
        "TF-IAM-RUNTIME-POD-IDENTITY",
        f"{PROD}/main.tf",
        'service_account     = "runtime-api"',
        'service_account     = "default"',
        "0 Pod Identity associations for tenon/runtime-api",
        at=STACK,
    ),
    Mutation(
        "TF-IAM-NO-WILDCARD",
        IDENTITY,
        'actions   = ["s3:GetObject", "s3:PutObject"]',
        'actions   = ["s3:*"]',
        "allows action 's3:*'",
        at=STATEMENT,
    ),
    Mutation(
        "TF-IAM-RUNTIME-SCOPE",
        IDENTITY,
        'resources = ["${var.bucket_arn}/${var.object_prefix}*"]',
        'resources = ["${var.bucket_arn}/*"]',
        "s3 access to",
        at=STATEMENT,
    ),
    Mutation(
        "TF-IAM-CI-TRUST-MAIN",
        IDENTITY,
        "ref_type:branch:ref:${var.deploy_branch}",
        "ref_type:branch:ref:*",
        "trusts GitLab CI beyond main of tenon/runtime",
        at=STATEMENT,
    ),
    Mutation(
        "TF-SECRETS-CMK",
        SECRETS,
        "kms_key_id              = aws_kms_key.secrets.arn\n",
        "",
        "kms_key_id is not set",
        at='resource "aws_secretsmanager_secret" "runtime"',
    ),
    Mutation(
        "TF-KMS-ROTATION",
        DATABASE,
        "enable_key_rotation     = true",
        "enable_key_rotation     = false",
        "enable_key_rotation is false",
    ),
]


@needs_stacks
@pytest.mark.parametrize("control_id", CONTROLS)
def test_the_repository_passes(control_id: str) -> None:
    results = run_control(control_id, REPO)
    assert failures(results) == []
    assert results
    assert all(result.outcome is Outcome.PASSED for result in results)


@needs_stacks
@pytest.mark.parametrize(
    "mutation",
    MUTATIONS,
    ids=[f"{m.control}:{m.message[:40]}" for m in MUTATIONS],
)
def test_a_realistic_edit_fails_the_control_at_its_line(
    repo_copy: Path, mutation: Mutation
) -> None:
    where = apply(repo_copy, mutation)
    lines = failures(run_control(mutation.control, repo_copy))

    matching = [
        line
        for line in lines
        if line.startswith(f"{where}: [{mutation.control} ")
        and mutation.message in line
    ]
    assert matching, "\n".join(lines) or "no finding"


@needs_stacks
def test_a_secret_value_is_never_echoed(repo_copy: Path) -> None:
    tfvars = repo_copy / PROD / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text() + 'api_token = "tok-very-secret-123"\n')
    lines = failures(run_control("TF-NO-SECRET-LITERALS", repo_copy))
    assert any("tfvars sets api_token" in line for line in lines)
    assert not any("tok-very-secret-123" in line for line in lines)


@needs_stacks
def test_a_fourth_environment_fails_env_1(repo_copy: Path) -> None:
    shutil.copytree(repo_copy / TF / "envs/stage", repo_copy / TF / "envs/qa")
    lines = failures(run_control("TF-ENVIRONMENTS", repo_copy))
    assert lines[0].startswith(f"{TF}/envs: [TF-ENVIRONMENTS ENV-1,IAC-4]")
    assert "extra ['qa']" in lines[0]


@needs_stacks
def test_without_environment_stacks_the_cluster_controls_check_nothing_and_fail(
    repo_copy: Path,
) -> None:
    shutil.rmtree(repo_copy / TF / "envs")
    results = run_control("TF-EKS-PRIVATE-ENDPOINT", repo_copy)
    assert failures(results) == [
        "failed: TF-EKS-PRIVATE-ENDPOINT selected no subject: nothing was checked"
    ]


@needs_stacks
def test_an_unparsable_file_makes_every_terraform_control_an_error(
    repo_copy: Path,
) -> None:
    (repo_copy / CLUSTER).write_text(
        'resource "aws_eks_cluster" "this" {\n  name =\n}\n'
    )
    results = run_control("TF-EKS-PRIVATE-ENDPOINT", repo_copy)
    assert [r.outcome for r in results] == [Outcome.ERROR]
    assert results[0].reason.startswith(f"{CLUSTER}:2: expected an expression")


@needs_stacks
def test_the_mutations_cover_every_terraform_control() -> None:
    covered = {m.control for m in MUTATIONS}
    covered |= {"TF-ENVIRONMENTS", "TF-IAC-IS-TERRAFORM"}
    assert covered == set(CONTROLS)


@needs_stacks
def test_a_second_iac_tool_fails_iac_1(repo_copy: Path) -> None:
    (repo_copy / "infra/pulumi").mkdir(parents=True)
    (repo_copy / "infra/pulumi/Pulumi.yaml").write_text("name: shadow\n")
    lines = failures(run_control("TF-IAC-IS-TERRAFORM", repo_copy))
    assert lines == [
        line
        for line in lines
        if line.startswith("infra/pulumi/Pulumi.yaml: [TF-IAC-IS-TERRAFORM IAC-1,")
    ]
    assert "Pulumi.yaml defines infrastructure outside Terraform" in lines[0]


@needs_stacks
@pytest.mark.parametrize(
    "control_id", ["TF-STACKS-SAME-CODE", "TF-STACKS-SAME-SECURITY"]
)
def test_without_prod_the_drift_controls_fail(repo_copy: Path, control_id: str) -> None:
    shutil.rmtree(repo_copy / PROD)
    lines = failures(run_control(control_id, repo_copy))
    assert lines[0].startswith(f"{TF}/envs: [{control_id} THR-1,ENV-2,TST-P2]")
    assert "there is no prod stack to compare the other environments with" in lines[0]


@needs_stacks
def test_a_finding_names_where_a_passed_value_was_set(repo_copy: Path) -> None:
    main = repo_copy / PROD / "main.tf"
    text = main.read_text(encoding="utf-8")
    old = "backup_retention_days             = 14"
    assert old in text
    main.write_text(text.replace(old, "backup_retention_days             = 3"))
    passed = next(
        number
        for number, line in enumerate(text.splitlines(), 1)
        if "backup_retention_days     = local.backup_retention_days" in line
    )
    lines = failures(run_control("TF-RDS-BACKUPS-PROTECTED", repo_copy))
    assert len(lines) == 1
    assert lines[0].startswith(f"{DATABASE}:")
    assert f"backup_retention_period is 3 (set at {PROD}/main.tf:{passed})" in lines[0]
