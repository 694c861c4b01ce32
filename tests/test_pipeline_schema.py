"""The pipeline and Renovate configurations are valid for GitLab and Renovate.

.gitlab-ci.yml is validated against GitLab's CI schema as vendored by
check-jsonschema (offline), with its GitLab data transform, which reads the
``!reference`` tags GitLab accepts. The schema cannot see one rule GitLab
enforces when it creates a pipeline: a job may only need jobs of its own or
an earlier stage; that rule is checked here on the resolved pipeline.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders import gitlab_ci

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "stage", "prod")

pytestmark = pytest.mark.skipif(
    shutil.which("check-jsonschema") is None, reason="check-jsonschema is not installed"
)


class PipelineSchemaError(Exception):
    """A configuration file does not match its schema; the message says where."""


def check_schema(path: Path, builtin: str, *transform: str) -> None:
    """Validate path against a schema vendored by check-jsonschema."""
    completed = subprocess.run(
        ["check-jsonschema", "--builtin-schema", builtin, *transform, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise PipelineSchemaError(f"{path.name}: {completed.stdout}{completed.stderr}")


def check_pipeline(path: Path) -> None:
    """Validate a .gitlab-ci.yml against GitLab's CI schema."""
    check_schema(path, "vendor.gitlab-ci", "--data-transform", "gitlab-ci")


def stage_order_errors(root: Path) -> list[str]:
    """Every need of a job on a job of a later stage, or on no job at all."""
    pipeline = gitlab_ci.load(Evidence(Options(root=root)))
    order = {stage: index for index, stage in enumerate(pipeline.stages)}
    errors = []
    for job in pipeline.jobs.values():
        for need in job.needs or ():
            needed = pipeline.jobs.get(need.job)
            if needed is None:
                errors.append(f"{job.name} needs {need.job}, which does not exist")
            elif order[needed.stage] > order[job.stage]:
                errors.append(
                    f"{job.name} (stage {job.stage}) needs {need.job} "
                    f"of the later stage {needed.stage}"
                )
    return errors


def pipeline_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the real .gitlab-ci.yml with one exact text replaced."""
    text = (REPO / ".gitlab-ci.yml").read_text()
    assert text.count(old) == 1, f"{old!r} is not unique in .gitlab-ci.yml"
    (tmp_path / ".gitlab-ci.yml").write_text(text.replace(old, new))
    return tmp_path / ".gitlab-ci.yml"


# The real files.


def test_pipeline_matches_gitlab_ci_schema() -> None:
    check_pipeline(REPO / ".gitlab-ci.yml")


def test_pipeline_needs_only_jobs_of_the_same_or_earlier_stages() -> None:
    assert stage_order_errors(REPO) == []


def test_renovate_configuration_matches_renovate_schema() -> None:
    check_schema(REPO / "renovate.json", "vendor.renovate")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deployment_of_environment_is_applied_deployed_and_verified_in_order(
    environment: str,
) -> None:
    jobs = gitlab_ci.load(Evidence(Options(root=REPO))).jobs
    apply, deploy, verify = (
        jobs[f"{step}:{environment}"] for step in ("apply", "deploy", "verify")
    )

    assert [rule.when for rule in apply.rules] == ["manual"]
    assert "$CI_DEFAULT_BRANCH" in apply.rules[0].condition
    assert {need.job for need in apply.needs or ()} >= {
        f"plan:{environment}",
        f"review:{environment}",
    }
    assert f"apply:{environment}" in {need.job for need in deploy.needs or ()}
    assert f"deploy:{environment}" in {need.job for need in verify.needs or ()}
    assert {apply.environment, deploy.environment, verify.environment} != {None}
    assert {
        job.environment.name for job in (apply, deploy, verify) if job.environment
    } == {environment}


@pytest.mark.parametrize(
    ("later", "earlier"), [("stage", "dev"), ("prod", "stage")], ids=str
)
def test_environment_is_promoted_only_after_the_previous_one(
    later: str, earlier: str
) -> None:
    jobs = gitlab_ci.load(Evidence(Options(root=REPO))).jobs

    assert f"apply:{earlier}" in {need.job for need in jobs[f"apply:{later}"].needs}
    assert f"deploy:{earlier}" in {need.job for need in jobs[f"deploy:{later}"].needs}
    assert f"verify:{earlier}" in {need.job for need in jobs[f"verify:{later}"].needs}


# Invalid pipelines are rejected, with the place of the error.


def test_pipeline_with_an_unknown_environment_action_is_rejected(
    tmp_path: Path,
) -> None:
    broken = pipeline_copy(
        tmp_path,
        "    name: prod\n    deployment_tier: production\n    action: start\n",
        "    name: prod\n    deployment_tier: production\n    action: begin\n",
    )

    with pytest.raises(
        PipelineSchemaError,
        match=r"(?s)^\.gitlab-ci\.yml: .*\$\['apply:prod'\]\.environment\.action: "
        r"'begin' is not one of",
    ):
        check_pipeline(broken)


def test_pipeline_with_an_id_token_without_audience_is_rejected(
    tmp_path: Path,
) -> None:
    broken = pipeline_copy(
        tmp_path,
        "    SIGSTORE_ID_TOKEN:\n      aud: sigstore\n",
        "    SIGSTORE_ID_TOKEN:\n      audience: sigstore\n",
    )

    with pytest.raises(PipelineSchemaError, match=r"\$\.sign\.id_tokens"):
        check_pipeline(broken)


def test_pipeline_with_an_unknown_yaml_tag_is_rejected(tmp_path: Path) -> None:
    broken = pipeline_copy(
        tmp_path,
        "  rules: !reference [.on-main, rules]\n  id_tokens:",
        "  rules: !include [.on-main, rules]\n  id_tokens:",
    )

    with pytest.raises(PipelineSchemaError, match=r"Failed to parse"):
        check_pipeline(broken)


def test_need_on_a_job_of_a_later_stage_is_reported(tmp_path: Path) -> None:
    pipeline_copy(
        tmp_path,
        "  needs: [plan:stage, review:stage, compliance, apply:dev]",
        "  needs: [plan:stage, review:stage, compliance, verify:dev]",
    )

    assert stage_order_errors(tmp_path) == [
        "apply:stage (stage apply) needs verify:dev of the later stage verify"
    ]


def test_renovate_configuration_with_an_unknown_option_is_rejected(
    tmp_path: Path,
) -> None:
    text = (REPO / "renovate.json").read_text()
    broken = tmp_path / "renovate.json"
    broken.write_text(text.replace('"pinDigests"', '"pinDigest"', 1))

    with pytest.raises(
        PipelineSchemaError, match=r"(?s)^renovate\.json: .*\$\.pinDigest: "
    ):
        check_schema(broken, "vendor.renovate")
