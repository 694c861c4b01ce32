"""The pipeline controls: a compliant pipeline passes, realistic edits fail.

Each violation is made on a copy of a compliant pipeline, written here in full
(``COMPLIANT``) so that every control is exercised on a known configuration;
``test_real_pipeline_passes`` applies the same controls to the repository's
own .gitlab-ci.yml.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome
from tests.conftest import REPO, failures, run_control

CI = ".gitlab-ci.yml"


def fake_digest(name: str) -> str:
    """A well-formed digest that is not a placeholder (no real image behind it)."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


TOOLS = "registry.gitlab.com/tenon/runtime/ci-tools:1@" + fake_digest("tools")
BUILDKIT = "moby/buildkit:v0.23.2-rootless@" + fake_digest("buildkit")
CONTROLS = sorted(c.id for c in all_controls() if c.id.startswith("CI-"))

COMPLIANT = textwrap.dedent(
    f"""
    stages: [validate, compliance, build, sign, plan, review, apply, deploy, verify]

    workflow:
      rules:
        - if: $CI_PIPELINE_SOURCE == "merge_request_event"
        - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS
          when: never
        - if: $CI_COMMIT_BRANCH

    variables:
      IMAGE: registry.gitlab.com/tenon/runtime/runtime-api

    default:
      image: {TOOLS}

    .main-only:
      rules:
        - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

    validate:
      stage: validate
      script:
        - terraform fmt -check -recursive infra/terraform

    compliance:
      stage: compliance
      rules:
        - if: $CI_PIPELINE_SOURCE == "merge_request_event"
        - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      script:
        - >-
          pytest compliance/ --strict --image oci-archive:promoted.oci.tar
          --signature-bundle k8s/promoted/runtime-api.sigstore.json
          --junitxml=reports/junit.xml
      artifacts:
        when: always
        reports:
          junit: reports/junit.xml

    build:
      stage: build
      image: {BUILDKIT}
      script:
        - >-
          buildctl-daemonless.sh build --frontend dockerfile.v0
          --local context=. --local dockerfile=docker
          --opt build-arg:REVISION=$CI_COMMIT_SHA
          --output type=image,name=$IMAGE,push=true --metadata-file build.json
        - echo "DIGEST=$(jq -r '."containerimage.digest"' build.json)" > build.env
      artifacts:
        reports:
          dotenv: build.env

    sign:
      stage: sign
      extends: .main-only
      needs: [build]
      id_tokens:
        SIGSTORE_ID_TOKEN:
          aud: sigstore
      script:
        - cosign sign --yes --bundle image.sigstore.json "$IMAGE@$DIGEST"
      artifacts:
        paths: [image.sigstore.json]

    compliance-image:
      stage: sign
      extends: .main-only
      needs: [build, sign]
      script:
        - >-
          pytest compliance/ --image "$IMAGE@$DIGEST"
          --signature-bundle image.sigstore.json --strict
          --junitxml=reports/junit.xml
      artifacts:
        when: always
        reports:
          junit: reports/junit.xml

    .plan:
      stage: plan
      script:
        - terraform -chdir=infra/terraform/envs/$ENV init -input=false
        - terraform -chdir=infra/terraform/envs/$ENV plan -input=false -out=plan.tfplan
      artifacts:
        paths: [infra/terraform/envs/$ENV/plan.tfplan]

    plan-dev:
      extends: .plan
      variables: {{ENV: dev}}

    plan-stage:
      extends: .plan
      variables: {{ENV: stage}}

    plan-prod:
      extends: .plan
      variables: {{ENV: prod}}

    .apply:
      stage: apply
      extends: .main-only
      when: manual
      script:
        - terraform -chdir=infra/terraform/envs/$ENV init -input=false
        - terraform -chdir=infra/terraform/envs/$ENV apply -input=false plan.tfplan

    apply-dev:
      extends: .apply
      variables: {{ENV: dev}}
      needs: [plan-dev]
      environment: {{name: dev, action: start}}
      resource_group: terraform-dev

    apply-stage:
      extends: .apply
      variables: {{ENV: stage}}
      needs: [plan-stage]
      environment: {{name: stage, action: start}}
      resource_group: terraform-stage

    apply-prod:
      extends: .apply
      variables: {{ENV: prod}}
      needs: [plan-prod]
      environment: {{name: prod, action: start, deployment_tier: production}}
      resource_group: terraform-prod

    .deploy:
      stage: deploy
      extends: .main-only
      script:
        - kubectl apply --server-side --field-manager=gitlab-ci -k k8s/overlays/$ENV
        - >-
          kubectl -n tenon rollout status deployment/runtime-api --timeout=5m
          || (kubectl -n tenon rollout undo deployment/runtime-api; exit 1)

    deploy-dev:
      extends: .deploy
      variables: {{ENV: dev}}
      needs: [apply-dev]
      environment: {{name: dev/kubernetes, action: start}}

    deploy-stage:
      extends: .deploy
      variables: {{ENV: stage}}
      needs: [apply-stage, verify-dev]
      environment: {{name: stage/kubernetes, action: start}}

    deploy-prod:
      extends: .deploy
      variables: {{ENV: prod}}
      needs: [apply-prod, verify-stage]
      environment: {{name: prod/kubernetes, action: start}}

    .verify:
      stage: verify
      extends: .main-only
      script:
        - pytest compliance/live --environment $ENV

    verify-dev:
      extends: .verify
      variables: {{ENV: dev}}
      needs: [deploy-dev]

    verify-stage:
      extends: .verify
      variables: {{ENV: stage}}
      needs: [deploy-stage]

    verify-prod:
      extends: .verify
      variables: {{ENV: prod}}
      needs: [deploy-prod]
    """
).lstrip("\n")


@pytest.fixture
def compliant(tmp_path: Path) -> Path:
    """A repository holding only the compliant pipeline."""
    (tmp_path / CI).write_text(COMPLIANT)
    return tmp_path


def edit(root: Path, old: str, new: str) -> int:
    """Replace the first occurrence of old; return the line where new starts."""
    text = (root / CI).read_text()
    assert old in text, old
    index = text.index(old)
    (root / CI).write_text(text.replace(old, new, 1))
    return text.count("\n", 0, index) + 1


def line_of(root: Path, text: str) -> int:
    content = (root / CI).read_text()
    return content.count("\n", 0, content.index(text)) + 1


def findings(control: str, root: Path) -> list[str]:
    return failures(run_control(control, root))


@pytest.mark.parametrize("control_id", CONTROLS)
def test_compliant_pipeline_passes(control_id: str, compliant: Path) -> None:
    results = run_control(control_id, compliant)
    assert failures(results) == []
    assert all(result.outcome is Outcome.PASSED for result in results)


@pytest.mark.parametrize("control_id", CONTROLS)
def test_real_pipeline_passes(control_id: str) -> None:
    if not (REPO / CI).exists():
        pytest.fail(f"{CI} is missing from the repository")
    assert failures(run_control(control_id, REPO)) == []


def test_apply_job_without_when_manual_fails_iac_6(compliant: Path) -> None:
    line = edit(compliant, "  when: manual\n", "  when: on_success\n")
    found = findings("CI-APPLY-MANUAL", compliant)
    assert len(found) == 3
    assert found[0].startswith(
        f"{CI}:{line}: [CI-APPLY-MANUAL IAC-6,THR-4,ACC-3] job:apply-dev: "
        "terraform apply runs without a manual approval (expected: when: manual; "
        "found: when: on_success)"
    )


def test_apply_job_running_on_any_branch_fails_thr_4(compliant: Path) -> None:
    line = edit(
        compliant,
        "  variables: {ENV: prod}\n  needs: [plan-prod]",
        "  variables: {ENV: prod}\n  rules: [{if: $CI_COMMIT_BRANCH}]\n"
        "  needs: [plan-prod]",
    )
    found = findings("CI-APPLY-MANUAL", compliant)
    assert found == [
        f"{CI}:{line + 1}: [CI-APPLY-MANUAL IAC-6,THR-4,ACC-3] job:apply-prod: "
        "a rule lets the job run outside the default branch (expected: every rule "
        "requires $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH; found: if: "
        "$CI_COMMIT_BRANCH) fix: when: manual on the apply job, with rules only on "
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH."
    ]


def test_apply_with_auto_approve_and_no_plan_file_fails_iac_6(compliant: Path) -> None:
    line = edit(
        compliant,
        "apply -input=false plan.tfplan",
        "apply -input=false -auto-approve",
    )
    found = findings("CI-APPLY-SAVED-PLAN", compliant)
    assert len(found) == 3
    assert found[0].startswith(
        f"{CI}:{line}: [CI-APPLY-SAVED-PLAN IAC-6,FLOW-4] job:apply-dev: "
        "terraform apply runs without a saved plan file"
    )


def test_apply_that_does_not_need_its_plan_fails_iac_6(compliant: Path) -> None:
    line = edit(compliant, "needs: [plan-stage]", "needs: [plan-dev]")
    assert findings("CI-APPLY-SAVED-PLAN", compliant) == [
        f"{CI}:{line}: [CI-APPLY-SAVED-PLAN IAC-6,FLOW-4] job:apply-stage: the apply "
        "job does not need the stage plan job (expected: needs: [plan-stage]; "
        "found: needs: ['plan-dev']) fix: needs: [plan-<env>] and terraform apply "
        "<plan file> (no -auto-approve without a plan file)."
    ]


def test_apply_without_resource_group_fails_acc_3(compliant: Path) -> None:
    edit(compliant, "  resource_group: terraform-prod\n", "")
    found = findings("CI-APPLY-ENVIRONMENT", compliant)
    line = line_of(compliant, "apply-prod:")
    assert found[0].startswith(
        f"{CI}:{line}: [CI-APPLY-ENVIRONMENT IAC-6,THR-4,ACC-3] job:apply-prod: "
        "the apply job has no resource_group"
    )


def test_apply_in_another_environment_fails_acc_3(compliant: Path) -> None:
    line = edit(compliant, "{name: stage, action: start}", "{name: review}")
    found = findings("CI-APPLY-ENVIRONMENT", compliant)
    assert found[0].startswith(
        f"{CI}:{line}: [CI-APPLY-ENVIRONMENT IAC-6,THR-4,ACC-3] job:apply-stage: "
        "the apply job is not bound to its GitLab environment (expected: environment: "
        "name: stage; found: environment: review)"
    )


def test_a_new_apply_job_is_discovered_and_checked(compliant: Path) -> None:
    (compliant / CI).write_text(
        COMPLIANT + "hotfix:\n  stage: apply\n  script: [terraform apply]\n"
    )
    results = run_control("CI-APPLY-MANUAL", compliant)
    assert [r.case.id for r in results][-1] == "CI-APPLY-MANUAL[job:hotfix]"
    assert results[-1].outcome is Outcome.FAILED


def test_no_apply_job_at_all_fails_instead_of_passing(compliant: Path) -> None:
    (compliant / CI).write_text(COMPLIANT.replace(" apply -input=false plan", " show"))
    results = run_control("CI-APPLY-MANUAL", compliant)
    assert [r.outcome for r in results] == [Outcome.FAILED]
    assert (
        results[0].reason == "CI-APPLY-MANUAL selected no subject: nothing was checked"
    )


def test_plan_without_saved_artifact_fails_iac_6(compliant: Path) -> None:
    edit(
        compliant,
        "    paths: [infra/terraform/envs/$ENV/plan.tfplan]\n",
        "    paths: []\n",
    )
    found = findings("CI-PLAN-PER-ENVIRONMENT", compliant)
    line = line_of(compliant, "plan -input=false -out=plan.tfplan")
    assert len(found) == 3
    assert found[0].startswith(
        f"{CI}:{line}: [CI-PLAN-PER-ENVIRONMENT IAC-6] plan:dev: "
        "the dev plan is not saved as an artifact"
    )


def test_missing_plan_for_an_environment_fails_iac_6(compliant: Path) -> None:
    edit(
        compliant, "plan-stage:\n  extends: .plan\n", "plan-stage:\n  extends: .apply\n"
    )
    found = findings("CI-PLAN-PER-ENVIRONMENT", compliant)
    assert found[0].startswith(
        f"{CI}:1: [CI-PLAN-PER-ENVIRONMENT IAC-6] plan:stage: no job plans the stage "
        "stack"
    )


def test_kubectl_patch_in_a_validate_job_fails_thr_2(compliant: Path) -> None:
    line = edit(
        compliant,
        "    - terraform fmt -check -recursive infra/terraform\n",
        "    - terraform fmt -check -recursive infra/terraform\n"
        "    - kubectl -n tenon patch deployment runtime-api -p '{}'\n",
    )
    found = findings("CI-NO-OUT-OF-BAND-CHANGES", compliant)
    assert found == [
        f"{CI}:{line + 1}: [CI-NO-OUT-OF-BAND-CHANGES THR-2,ACC-3] job:validate: the "
        "job changes infrastructure outside the apply/deploy jobs (stage validate) "
        "(expected: terraform apply in stage apply, kubectl apply in stage deploy; no "
        "destroy, edit, patch, set, scale or delete; found: kubectl -n tenon patch "
        "deployment runtime-api -p '{}') fix: Move terraform apply to the apply stage "
        "and kubectl apply to the deploy stage; never run terraform destroy or kubectl "
        "edit/patch/set/scale/delete."
    ]


def test_terraform_destroy_anywhere_fails_thr_2(compliant: Path) -> None:
    line = edit(compliant, "apply -input=false plan.tfplan", "destroy -auto-approve")
    found = findings("CI-NO-OUT-OF-BAND-CHANGES", compliant)
    assert len(found) == 3
    assert found[0].startswith(f"{CI}:{line}: [CI-NO-OUT-OF-BAND-CHANGES THR-2,ACC-3]")


def test_deploy_without_rollout_undo_fails_fail_1(compliant: Path) -> None:
    edit(
        compliant,
        "\n      || (kubectl -n tenon rollout undo deployment/runtime-api; exit 1)",
        "",
    )
    found = findings("CI-DEPLOY-ROLLOUT", compliant)
    line = line_of(compliant, "deploy-dev:")
    assert len(found) == 3
    assert found[0].startswith(
        f"{CI}:{line}: [CI-DEPLOY-ROLLOUT FAIL-1,ACC-5,TST-S2,FLOW-5] job:deploy-dev: "
        "the deploy never rolls back a failed rollout"
    )


def test_client_side_apply_and_no_timeout_fail_flow_5(compliant: Path) -> None:
    apply = edit(compliant, "apply --server-side --field-manager=gitlab-ci", "apply")
    status = edit(compliant, " --timeout=5m", "")
    found = findings("CI-DEPLOY-ROLLOUT", compliant)
    assert [f.split(" [")[0] for f in found[:2]] == [
        f"{CI}:{apply}:",
        f"{CI}:{status}:",
    ]
    assert "the deploy applies client-side" in found[0]
    assert "does not wait for the rollout with a deadline" in found[1]


def test_deploy_of_a_file_not_rendered_from_an_overlay_fails_flow_5(
    compliant: Path,
) -> None:
    line = edit(compliant, "-k k8s/overlays/$ENV", "-f k8s/base/deployment.yaml")
    found = findings("CI-DEPLOY-ROLLOUT", compliant)
    assert len(found) == 3
    assert found[0].startswith(
        f"{CI}:{line}: [CI-DEPLOY-ROLLOUT FAIL-1,ACC-5,TST-S2,FLOW-5] job:deploy-dev: "
        "the deploy does not apply the rendered overlay"
    )


def test_deploy_of_the_kustomize_output_passes(compliant: Path) -> None:
    edit(
        compliant,
        "- kubectl apply --server-side --field-manager=gitlab-ci -k k8s/overlays/$ENV",
        '- kubectl kustomize "k8s/overlays/$ENV" > rendered.yaml\n'
        "    - kubectl apply --server-side --filename rendered.yaml",
    )
    assert findings("CI-DEPLOY-ROLLOUT", compliant) == []


def test_compliance_after_sign_is_allowed_but_apply_before_plan_is_not(
    compliant: Path,
) -> None:
    edit(compliant, "compliance, build, sign,", "build, sign, compliance,")
    assert findings("CI-STAGES-ORDER", compliant) == []
    edit(compliant, "plan, review, apply", "apply, review, plan")
    assert (
        "out of order: plan after review, review after apply"
        in (findings("CI-STAGES-ORDER", compliant)[0])
    )


def test_deploy_without_verify_fails_flow_6(compliant: Path) -> None:
    edit(compliant, "  needs: [deploy-prod]\n", "  needs: [deploy-stage]\n")
    line = line_of(compliant, "deploy-prod:")
    assert findings("CI-VERIFY-AFTER-DEPLOY", compliant) == [
        f"{CI}:{line}: [CI-VERIFY-AFTER-DEPLOY FLOW-6,TST-F2] job:deploy-prod: "
        "no verify job follows deploy-prod (expected: a job in stage verify with "
        "needs: [deploy-prod]; found: none) fix: Add verify-<env> in stage verify with "
        "needs: [deploy-<env>]."
    ]


def test_prod_deploy_that_skips_stage_fails_flow_1(compliant: Path) -> None:
    line = edit(compliant, "needs: [apply-prod, verify-stage]", "needs: [apply-prod]")
    found = findings("CI-DEPLOY-ORDER", compliant)
    assert found == [
        f"{CI}:{line}: [CI-DEPLOY-ORDER FLOW-1] pipeline: deploy-prod does not depend "
        "on deploy-stage (expected: needs (directly or through verify) on "
        "deploy-stage; found: needs: ['apply-prod']) fix: deploy-stage needs "
        "deploy-dev (or verify-dev); deploy-prod needs deploy-stage (or verify-stage)."
    ]


def test_unpinned_job_image_fails_tst_p2(compliant: Path) -> None:
    line = edit(compliant, f"image: {BUILDKIT}", "image: moby/buildkit:rootless")
    assert findings("CI-IMAGE-PINNED", compliant) == [
        f"{CI}:{line}: [CI-IMAGE-PINNED TST-P2] job:build: the job image is not "
        "pinned by digest (expected: <name>@sha256:<64 hex>; found: "
        "moby/buildkit:rootless) fix: image: <name>:<tag>@sha256:<64 hex> (in default: "
        "or the job)."
    ]


def test_placeholder_digest_fails_tst_p2(compliant: Path) -> None:
    line = edit(
        compliant, f"image: {BUILDKIT}", f"image: moby/buildkit@sha256:{'0' * 64}"
    )
    found = findings("CI-IMAGE-PINNED", compliant)
    assert found[0].startswith(
        f"{CI}:{line}: [CI-IMAGE-PINNED TST-P2] job:build: the job image's digest is "
        "a placeholder, not a real image"
    )


def test_static_aws_key_in_variables_fails_sec_2_without_echoing_it(
    compliant: Path,
) -> None:
    line = edit(
        compliant,
        "  IMAGE: registry.gitlab.com/tenon/runtime/runtime-api\n",
        "  IMAGE: registry.gitlab.com/tenon/runtime/runtime-api\n"
        "  AWS_SECRET_ACCESS_KEY: not-a-real-key\n",
    )
    found = findings("CI-NO-STATIC-CREDENTIALS", compliant)
    assert found == [
        f"{CI}:{line + 1}: [CI-NO-STATIC-CREDENTIALS SEC-1,SEC-2] pipeline: the "
        "variable AWS_SECRET_ACCESS_KEY carries a static credential (expected: no "
        "credential in CI variables (OIDC id_tokens instead); found: "
        "AWS_SECRET_ACCESS_KEY=<value withheld>) fix: Remove the variable; use "
        "id_tokens with AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE instead of access "
        "keys."
    ]


def test_job_password_and_exported_key_fail_sec_2(compliant: Path) -> None:
    export = edit(
        compliant,
        "    - terraform fmt -check",
        "    - export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n"
        "    - terraform fmt -check",
    )
    line = edit(
        compliant,
        "  variables: {ENV: dev}\n  needs: [plan-dev]",
        "  variables: {ENV: dev, DB_PASSWORD: hunter2-not-real}\n  needs: [plan-dev]",
    )
    found = findings("CI-NO-STATIC-CREDENTIALS", compliant)
    assert [f.split(" [")[0] for f in found] == [f"{CI}:{export}:", f"{CI}:{line}:"]
    assert "job:validate: the script exports a static cloud credential" in found[0]
    assert (
        "job:apply-dev: the variable DB_PASSWORD carries a static credential"
        in (found[1])
    )
    assert not any("hunter2" in f or "AKIA" in f for f in found)


def test_dind_build_with_secret_build_arg_fails_flow_2(compliant: Path) -> None:
    edit(
        compliant,
        f"  image: {BUILDKIT}\n",
        f"  image: {BUILDKIT}\n  services: ['docker:27-dind@sha256:{'3' * 64}']\n",
    )
    edit(
        compliant,
        "--opt build-arg:REVISION=$CI_COMMIT_SHA",
        "--opt build-arg:NPM_TOKEN=$NPM_TOKEN",
    )
    command = line_of(compliant, "buildctl-daemonless.sh build")
    found = findings("CI-BUILD-ROOTLESS", compliant)
    assert len(found) == 2
    assert "the build uses a docker:dind service" in found[0]
    assert found[1].startswith(f"{CI}:{command}: [CI-BUILD-ROOTLESS FLOW-2,INV-3.2]")
    assert "the build argument NPM_TOKEN carries a secret into the build" in found[1]


def test_build_argument_replacing_the_pinned_base_fails_inv_1_2(
    compliant: Path,
) -> None:
    dockerfile = compliant / "docker" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text(
        f"ARG BASE=python:3.13-slim@{fake_digest('python')}\nFROM ${{BASE}}\n"
    )
    edit(
        compliant,
        "--opt build-arg:REVISION=$CI_COMMIT_SHA",
        "--opt build-arg:BASE=python:3.13-slim",
    )
    command = line_of(compliant, "buildctl-daemonless.sh build")
    assert findings("CI-BUILD-BASE-FIXED", compliant) == [
        f"{CI}:{command}: [CI-BUILD-BASE-FIXED INV-1.2,TST-P2] job:build: the build "
        "argument BASE replaces the base image pinned at docker/Dockerfile:2 "
        "(expected: no build argument for an ARG used in FROM; found: --build-arg "
        "BASE=...) fix: Drop the build argument: change the base image (and its "
        "digest) in docker/Dockerfile itself, through a merge request."
    ]


def test_docker_build_instead_of_buildkit_fails_flow_2(compliant: Path) -> None:
    line = edit(
        compliant,
        "  - >-\n      buildctl-daemonless.sh build",
        "  - docker build -t $IMAGE . && docker push $IMAGE\n    - >-\n      echo",
    )
    found = findings("CI-BUILD-ROOTLESS", compliant)
    assert found[0].startswith(f"{CI}:{line}: [CI-BUILD-ROOTLESS FLOW-2,INV-3.2]")
    assert "not built with rootless BuildKit or Buildah" in found[0]


def test_signing_a_tag_without_sigstore_token_fails_flow_3(compliant: Path) -> None:
    edit(compliant, "      aud: sigstore\n", "      aud: vault\n")
    line = edit(compliant, '"$IMAGE@$DIGEST"', '"$IMAGE:latest"')
    found = findings("CI-SIGN-KEYLESS", compliant)
    assert len(found) == 2
    assert "no OIDC id_token for the sigstore audience" in found[0]
    assert found[1].startswith(
        f"{CI}:{line}: [CI-SIGN-KEYLESS FLOW-3] job:sign: cosign signs an image by "
        "tag, not by digest"
    )


def test_bundle_not_kept_fails_flow_3(compliant: Path) -> None:
    edit(compliant, "    paths: [image.sigstore.json]\n", "    paths: [other]\n")
    found = findings("CI-SIGN-KEYLESS", compliant)
    assert found[0].split(" [")[0] == f"{CI}:{line_of(compliant, 'cosign sign')}:"
    assert "the signature bundle is not kept as an artifact" in found[0]


def test_compliance_report_not_kept_on_failure_fails_mit_2(compliant: Path) -> None:
    line = edit(compliant, "  artifacts:\n    when: always\n", "  artifacts:\n")
    found = findings("CI-COMPLIANCE-REPORT", compliant)
    assert found[0].startswith(
        f"{CI}:{line + 1}: [CI-COMPLIANCE-REPORT MIT-2,TST-F1] job:compliance: "
        "the report is not kept when the suite fails"
    )


def test_suite_without_strict_fails_flow_3(compliant: Path) -> None:
    (compliant / CI).write_text(COMPLIANT.replace(" --strict", ""))
    found = findings("CI-COMPLIANCE-STRICT", compliant)
    first = line_of(compliant, "pytest compliance/ --image")
    assert found[0].startswith(
        f"{CI}:{first}: [CI-COMPLIANCE-STRICT FLOW-3] pipeline: no job runs the "
        "compliance suite against the signed image in strict mode"
    )


def test_strict_suite_only_on_main_fails_flow_3(compliant: Path) -> None:
    line = edit(
        compliant,
        '  rules:\n    - if: $CI_PIPELINE_SOURCE == "merge_request_event"\n'
        "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n  script:\n"
        "    - >-\n      pytest",
        "  rules:\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n  script:\n"
        "    - >-\n      pytest",
    )
    assert findings("CI-COMPLIANCE-STRICT", compliant) == [
        f"{CI}:{line}: [CI-COMPLIANCE-STRICT FLOW-3] pipeline: the strict compliance "
        "run is not a merge request check (expected: a rule on $CI_PIPELINE_SOURCE == "
        "'merge_request_event'; found: rules: ['$CI_COMMIT_BRANCH == "
        '$CI_DEFAULT_BRANCH\']) fix: Run pytest compliance/ --image "$IMAGE@$DIGEST" '
        "--signature-bundle <bundle> --strict in the job that gates the change."
    ]


def test_branch_pipelines_beside_merge_requests_fail_iac_5(compliant: Path) -> None:
    edit(compliant, "    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS\n", "")
    edit(compliant, "      when: never\n", "")
    line = line_of(compliant, "    - if: $CI_COMMIT_BRANCH\n")
    assert findings("CI-MR-PIPELINES", compliant) == [
        f"{CI}:{line}: [CI-MR-PIPELINES IAC-5] pipeline: branch pipelines run beside "
        "merge request pipelines (duplicates) (expected: a preceding rule "
        "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS with when: never; found: if: "
        "$CI_COMMIT_BRANCH) fix: workflow: rules: - if: $CI_PIPELINE_SOURCE == "
        "'merge_request_event'; - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS, "
        "when: never; - if: $CI_COMMIT_BRANCH"
    ]


def test_stages_out_of_order_fail_iac_6(compliant: Path) -> None:
    edit(compliant, "plan, review, apply", "apply, review, plan")
    assert findings("CI-STAGES-ORDER", compliant)[0].startswith(
        f"{CI}:1: [CI-STAGES-ORDER INV-2.2,IAC-6] pipeline: required stages are "
        "missing or out of order"
    )


def test_remote_include_is_an_error_and_nothing_is_fetched(compliant: Path) -> None:
    (compliant / CI).write_text(
        "include:\n  - remote: https://example.invalid/ci.yml\n" + COMPLIANT
    )
    results = run_control("CI-STAGES-ORDER", compliant)
    assert [r.outcome for r in results] == [Outcome.ERROR]
    assert results[0].reason.startswith(
        f"{CI}:2: only include: local is allowed; found remote"
    )
