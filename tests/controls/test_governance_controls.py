"""Governance controls: the GitLab project's settings pass, a weakened one fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_terraform_controls import Mutation, apply, needs_stacks

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome
from tests.conftest import REPO, failures, run_control

GOVERNANCE = "infra/terraform/modules/governance/main.tf"
CONTROLS = sorted(c.id for c in all_controls() if c.id.startswith("GOV-"))

MUTATIONS = [
    Mutation(
        "GOV-MAIN-PROTECTED",
        GOVERNANCE,
        'push_access_level            = "no one"',
        'push_access_level            = "maintainer"',
        "push_access_level is 'maintainer'",
    ),
    Mutation(
        "GOV-MAIN-PROTECTED",
        GOVERNANCE,
        "allow_force_push             = false",
        "allow_force_push             = true",
        "allow_force_push is true",
    ),
    Mutation(
        "GOV-PIPELINE-MUST-SUCCEED",
        GOVERNANCE,
        "only_allow_merge_if_pipeline_succeeds            = true",
        "only_allow_merge_if_pipeline_succeeds            = false",
        "only_allow_merge_if_pipeline_succeeds is false",
    ),
    Mutation(
        "GOV-MERGE-APPROVALS",
        GOVERNANCE,
        "merge_requests_author_approval                 = false",
        "merge_requests_author_approval                 = true",
        "merge_requests_author_approval is true",
    ),
    Mutation(
        "GOV-PROD-ENVIRONMENT-APPROVAL",
        GOVERNANCE,
        "required_approvals = 2",
        "required_approvals = 0",
        "deploying to prod needs no approval",
        at="approval_rules = ",
    ),
]


@needs_stacks
@pytest.mark.parametrize("control_id", CONTROLS)
def test_the_repository_passes(control_id: str) -> None:
    results = run_control(control_id, REPO)
    assert failures(results) == []
    assert [r.outcome for r in results] == [Outcome.PASSED]


@needs_stacks
@pytest.mark.parametrize(
    "mutation", MUTATIONS, ids=[f"{m.control}:{m.message[:40]}" for m in MUTATIONS]
)
def test_a_weakened_setting_fails_the_control_at_its_line(
    repo_copy: Path, mutation: Mutation
) -> None:
    where = apply(repo_copy, mutation)
    lines = failures(run_control(mutation.control, repo_copy))
    assert any(
        line.startswith(f"{where}: [{mutation.control} ") and mutation.message in line
        for line in lines
    ), "\n".join(lines) or "no finding"


@needs_stacks
def test_without_a_gitlab_project_governance_checks_nothing_and_fails(
    repo_copy: Path,
) -> None:
    path = repo_copy / GOVERNANCE
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            'resource "gitlab_project" "runtime"',
            'resource "gitlab_project_x" "runtime"',
        )
    )
    assert failures(run_control("GOV-MAIN-PROTECTED", repo_copy)) == [
        "failed: GOV-MAIN-PROTECTED selected no subject: nothing was checked"
    ]


@needs_stacks
def test_protection_of_another_branch_does_not_count(repo_copy: Path) -> None:
    path = repo_copy / GOVERNANCE
    text = path.read_text(encoding="utf-8")
    old = "branch                       = var.default_branch"
    assert old in text
    path.write_text(text.replace(old, 'branch                       = "release"'))
    lines = failures(run_control("GOV-MAIN-PROTECTED", repo_copy))
    assert any("no gitlab_branch_protection for main" in line for line in lines)


def test_the_mutations_cover_every_governance_control() -> None:
    assert {m.control for m in MUTATIONS} == set(CONTROLS)


@needs_stacks
def test_code_owner_approval_without_a_codeowners_file_fails(repo_copy: Path) -> None:
    for relative in ("CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"):
        (repo_copy / relative).unlink(missing_ok=True)
    text = (repo_copy / GOVERNANCE).read_text(encoding="utf-8").splitlines()
    number = next(
        i for i, line in enumerate(text, 1) if "code_owner_approval_required" in line
    )
    lines = failures(run_control("GOV-MAIN-PROTECTED", repo_copy))
    assert lines[0].startswith(f"{GOVERNANCE}:{number}: [GOV-MAIN-PROTECTED ")
    assert "the repository has no CODEOWNERS file" in lines[0]
