"""The Terraform content is canonically formatted and parses as HCL (RFC-16 TST-U2).

`terraform fmt -check` is the lint every merge request runs; the python `hcl2`
parse shows that no .tf or .tfvars file is malformed, naming the file that is.
Both checks are also run on a broken copy, so that they are seen to fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from tests.conftest import REPO

TERRAFORM_ROOT = Path("infra/terraform")

requires_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None,
    reason="terraform is not installed on this machine; fmt -check cannot run",
)


def hcl_files(root: Path) -> list[Path]:
    """Every .tf and .tfvars file under root/infra/terraform, sorted."""
    base = root / TERRAFORM_ROOT
    found = [*base.rglob("*.tf"), *base.rglob("*.tfvars")]
    return sorted(path for path in found if ".terraform" not in path.parts)


def parse_errors(root: Path) -> list[str]:
    """One 'file: error' line per HCL file under root that hcl2 cannot parse."""
    errors: list[str] = []
    for path in hcl_files(root):
        try:
            hcl2.loads(path.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - hcl2 raises lark's many error types
            first_line = str(error).strip().splitlines()[0]
            errors.append(f"{path.relative_to(root)}: {first_line}")
    return errors


def unformatted_files(root: Path) -> list[str]:
    """Files under root/infra/terraform that `terraform fmt -check` rejects."""
    completed = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TERRAFORM_ROOT)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 3):
        # 3 means "some files need formatting"; anything else is a fmt failure
        # (for example a syntax error), which must not pass as "formatted".
        pytest.fail(
            f"terraform fmt failed ({completed.returncode}): {completed.stderr}"
        )
    return completed.stdout.split()


def test_there_is_terraform_content_to_check() -> None:
    names = {
        path.relative_to(REPO / TERRAFORM_ROOT).as_posix() for path in hcl_files(REPO)
    }

    for environment in ("dev", "stage", "prod"):
        assert f"envs/{environment}/versions.tf" in names
        assert f"envs/{environment}/terraform.tfvars" in names
    assert "bootstrap/main.tf" in names


@requires_terraform
def test_every_terraform_file_is_formatted() -> None:
    assert unformatted_files(REPO) == []


@requires_terraform
def test_a_misformatted_file_is_named_by_fmt_check(repo_copy: Path) -> None:
    variables = repo_copy / TERRAFORM_ROOT / "envs/prod/variables.tf"
    text = variables.read_text(encoding="utf-8")
    variables.write_text(text.replace("  type        = string", "  type = string", 1))

    assert unformatted_files(repo_copy) == [
        "infra/terraform/envs/prod/variables.tf",
    ]


def test_every_terraform_and_tfvars_file_parses() -> None:
    assert parse_errors(REPO) == []


def test_a_malformed_tfvars_file_is_reported_by_name(repo_copy: Path) -> None:
    tfvars = repo_copy / TERRAFORM_ROOT / "envs/stage/terraform.tfvars"
    tfvars.write_text(
        tfvars.read_text(encoding="utf-8") + '\nvpc_cidr = "10.20.0.0/16\n'
    )

    errors = parse_errors(repo_copy)

    assert len(errors) == 1
    assert errors[0].startswith("infra/terraform/envs/stage/terraform.tfvars: ")


def test_a_malformed_module_file_is_reported_by_name(repo_copy: Path) -> None:
    module = repo_copy / TERRAFORM_ROOT / "modules/cluster/main.tf"
    module.write_text(module.read_text(encoding="utf-8") + '\nresource "aws_x" {\n')

    errors = parse_errors(repo_copy)

    assert [error.split(": ")[0] for error in errors] == [
        "infra/terraform/modules/cluster/main.tf",
    ]
