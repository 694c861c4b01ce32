"""Governance controls: the GitLab project's settings, managed by Terraform.

The gitlab provider's resources are read from the same Terraform model as
the AWS ones. The subject is each ``gitlab_project`` of any stack; every
other setting (branch protection, approvals, protected environments) is
found by its ``project`` reference to that project, so a setting made for a
different project, or by hand, does not count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tenon_compliance.controls.base import control
from tenon_compliance.controls.terraform import (
    attached,
    equals,
    is_false,
    is_true,
    require,
    show,
    unresolved,
)
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders.terraform import ResourceInstance, Stack, model
from tenon_compliance.loaders.terraform_eval import Reference
from tenon_compliance.model import Method, Severity, Subject, Unknown, Violation

PROTECTED_BRANCH = "main"
PRODUCTION = "prod"
# Where GitLab looks for code owners, in its order of precedence.
CODEOWNERS = ("CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


def gitlab_projects(evidence: Evidence) -> list[Subject]:
    """``<stack>:<address>`` of every gitlab_project in every stack."""
    return [
        Subject(f"{stack.name}:{project.address}", project.location, (stack, project))
        for stack in model(evidence).stacks
        for project in stack.resources_of("gitlab_project")
    ]


def _pair(subject: Subject) -> tuple[Stack, ResourceInstance]:
    return subject.data  # type: ignore[no-any-return]


def _of_project(
    stack: Stack, project: ResourceInstance, kind: str
) -> list[ResourceInstance]:
    return attached(stack, kind, project, "project")


def _main_protections(
    stack: Stack, project: ResourceInstance
) -> list[ResourceInstance]:
    return [
        protection
        for protection in _of_project(stack, project, "gitlab_branch_protection")
        if protection.value("branch") == PROTECTED_BRANCH
    ]


@control(
    id="GOV-MAIN-PROTECTED",
    title="main is protected: nobody pushes, nobody force-pushes, code owners approve",
    clauses=("MIT-1", "THR-4", "INV-2.2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Every change reaches main through a reviewed merge request; a direct "
    "push is a hotfix that skips review and CI.",
    remedy='Add gitlab_branch_protection for "main" with push_access_level = '
    '"no one", allow_force_push = false and code_owner_approval_required = true.',
    subjects=gitlab_projects,
)
def main_protected(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, project = _pair(subject)
    yield from require(
        project.attr("default_branch"),
        "default_branch",
        f'"{PROTECTED_BRANCH}"',
        equals(PROTECTED_BRANCH),
    )
    protections = _main_protections(stack, project)
    if not protections:
        yield Violation(
            project.location,
            f"no gitlab_branch_protection for {PROTECTED_BRANCH}",
            f"{PROTECTED_BRANCH} protected",
            "unprotected",
        )
    for protection in protections:
        yield from require(
            protection.attr("push_access_level"),
            "push_access_level",
            '"no one"',
            equals("no one"),
        )
        yield from require(
            protection.attr("allow_force_push"), "allow_force_push", "false", is_false
        )
        yield from require(
            protection.attr("code_owner_approval_required"),
            "code_owner_approval_required",
            "true",
            is_true,
        )
        if protection.value("code_owner_approval_required") is True:
            yield from _code_owners(evidence, protection)


def _code_owners(
    evidence: Evidence, protection: ResourceInstance
) -> Iterator[Violation]:
    """Code-owner approval means nothing without a CODEOWNERS file with rules."""
    for relative in CODEOWNERS:
        if (evidence.root / relative).is_file():
            text = evidence.read_bytes(relative).decode("utf-8", errors="replace")
            rules = [
                line
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "["))
            ]
            if rules:
                return
            yield Violation(
                protection.attr("code_owner_approval_required").location,
                f"{relative} names no code owner",
                "at least one CODEOWNERS rule",
                "no rule",
            )
            return
    yield Violation(
        protection.attr("code_owner_approval_required").location,
        "code-owner approval is required but the repository has no CODEOWNERS file",
        " or ".join(CODEOWNERS),
        "none",
    )


@control(
    id="GOV-PIPELINE-MUST-SUCCEED",
    title="A merge request merges only after its pipeline succeeded",
    clauses=("FLOW-1", "IAC-5", "INV-2.2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The compliance suite runs in the pipeline; a merge without it is "
    "unproven.",
    remedy="Set only_allow_merge_if_pipeline_succeeds = true and "
    "allow_merge_on_skipped_pipeline = false.",
    subjects=gitlab_projects,
)
def pipeline_must_succeed(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, project = _pair(subject)
    yield from require(
        project.attr("only_allow_merge_if_pipeline_succeeds"),
        "only_allow_merge_if_pipeline_succeeds",
        "true",
        is_true,
    )
    yield from require(
        project.attr("allow_merge_on_skipped_pipeline"),
        "allow_merge_on_skipped_pipeline",
        "false",
        is_false,
    )


@control(
    id="GOV-MERGE-APPROVALS",
    title="Merge requests need approval by someone other than their author",
    clauses=("IAC-5", "MIT-1", "FLOW-1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="A change is reviewed by another person before it reaches main.",
    remedy="Add gitlab_project_approval_rule with approvals_required >= 1 on "
    "protected branches, and gitlab_project_level_mr_approvals with "
    "merge_requests_author_approval = false.",
    subjects=gitlab_projects,
)
def merge_approvals(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, project = _pair(subject)
    rules = _of_project(stack, project, "gitlab_project_approval_rule")
    if not rules:
        yield Violation(
            project.location,
            "no gitlab_project_approval_rule",
            "approvals_required >= 1",
            "none",
        )
    for rule in rules:
        yield from require(
            rule.attr("approvals_required"),
            "approvals_required",
            ">= 1",
            _at_least_one,
        )
    settings = _of_project(stack, project, "gitlab_project_level_mr_approvals")
    if not settings:
        yield Violation(
            project.location,
            "no gitlab_project_level_mr_approvals",
            "merge_requests_author_approval = false",
            "GitLab defaults",
        )
    for setting in settings:
        yield from require(
            setting.attr("merge_requests_author_approval"),
            "merge_requests_author_approval",
            "false",
            is_false,
        )


def _at_least_one(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@control(
    id="GOV-PROD-ENVIRONMENT-APPROVAL",
    title="The prod environment is protected and a deployment needs an approval",
    clauses=("MIT-1", "FLOW-1", "INV-2.2", "THR-4"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="A production deployment starts only from an approved change.",
    remedy='Add gitlab_project_protected_environment for "prod" with an approval '
    "rule of required_approvals >= 1.",
    subjects=gitlab_projects,
)
def prod_environment(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, project = _pair(subject)
    protected = _of_project(stack, project, "gitlab_project_protected_environment")
    production = []
    for candidate in protected:
        name = _environment_name(stack, candidate)
        if isinstance(name, Unknown):
            where = candidate.attr("environment").location
            yield unresolved(where, "environment", name, f'"{PRODUCTION}"')
        elif name == PRODUCTION:
            production.append(candidate)
    if not production:
        yield Violation(
            project.location,
            f"the {PRODUCTION} environment is not protected",
            f"a protected {PRODUCTION} environment",
            "unprotected",
        )
    for environment in production:
        yield from _approval_required(environment)


def _environment_name(stack: Stack, protected: ResourceInstance) -> Any:
    """The environment's name, following a reference to gitlab_project_environment."""
    value = protected.value("environment")
    if isinstance(value, Reference):
        targets = [
            r for r in stack.referenced(value) if r.type == "gitlab_project_environment"
        ]
        if len(targets) == 1 and value.attribute == "name":
            return targets[0].value("name")
        return Unknown(f"{protected.location}: {value} is not an environment name")
    return value


def _approval_required(environment: ResourceInstance) -> Iterator[Violation]:
    attribute = environment.attr("approval_rules")
    rules: list[Any] = []
    if attribute and isinstance(attribute.value, Unknown):
        yield unresolved(attribute.location, "approval_rules", attribute.value, ">= 1")
        return
    if attribute and isinstance(attribute.value, list):
        rules = [
            r.get("required_approvals") for r in attribute.value if isinstance(r, dict)
        ]
    rules += [
        b.value("required_approvals") for b in environment.blocks_of("approval_rules")
    ]
    count = environment.value("required_approval_count")
    if not any(_at_least_one(value) for value in [*rules, count]):
        where = attribute.location if attribute else environment.location
        yield Violation(
            where,
            f"deploying to {PRODUCTION} needs no approval",
            "required_approvals >= 1",
            show(rules or count),
        )
