"""The GitLab CI loader: includes, extends, !reference, defaults, with lines."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders.gitlab_ci import Pipeline, load

CI = ".gitlab-ci.yml"
DIGEST = "sha256:" + "c" * 64


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def pipeline(root: Path, text: str, **others: str) -> Pipeline:
    write(root, {CI: text, **others})
    return load(Evidence(Options(root=root)))


def test_anchors_aliases_and_merge_keys_are_expanded(tmp_path: Path) -> None:
    result = pipeline(
        tmp_path,
        """
        .base: &base
          stage: build
          tags: [small]
        build:
          <<: *base
          tags: [large]
          script: [make]
        """,
    )
    job = result.jobs["build"]
    assert job.stage == "build"
    assert job.data["tags"] == ["large"]
    assert ".base" in result.templates
    assert set(result.jobs) == {"build"}


def test_extends_merges_hashes_replaces_arrays_and_follows_chains(
    tmp_path: Path,
) -> None:
    result = pipeline(
        tmp_path,
        """
        .one:
          variables: {A: "1", B: "1"}
          script: [one]
          when: manual
        .two:
          extends: .one
          variables: {B: "2"}
          script: [two-a, two-b]
        .three:
          artifacts: {paths: [x]}
        job:
          extends: [.two, .three]
          variables: {C: "3"}
        """,
    )
    job = result.jobs["job"]
    assert {name: v.value for name, v in job.variables.items()} == {
        "A": "1",
        "B": "2",
        "C": "3",
    }
    assert [line.text for line in job.script] == ["two-a", "two-b"]
    assert job.when == "manual"
    assert job.where("when").line == 4
    assert job.artifacts is not None
    assert job.artifacts.paths == ("x",)


def test_reference_tags_resolve_to_their_targets_with_their_lines(
    tmp_path: Path,
) -> None:
    result = pipeline(
        tmp_path,
        """
        .setup:
          script:
            - echo setup
            - echo more
        .rules:
          rules:
            - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
        job:
          rules: !reference [.rules, rules]
          script:
            - !reference [.setup, script]
            - echo own
        """,
    )
    job = result.jobs["job"]
    assert [(line.text, line.location.line) for line in job.script] == [
        ("echo setup", 3),
        ("echo more", 4),
        ("echo own", 12),
    ]
    assert job.rules[0].condition == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert job.rules[0].location.line == 7


def test_literal_block_lines_keep_their_own_file_lines(tmp_path: Path) -> None:
    result = pipeline(
        tmp_path,
        """
        job:
          script:
            - |
              terraform plan \\
                -out=plan.tfplan
        """,
    )
    lines = result.jobs["job"].script
    assert [(line.text.strip(), line.location.line) for line in lines] == [
        ("terraform plan \\", 4),
        ("-out=plan.tfplan", 5),
    ]


def test_defaults_are_inherited_unless_inherit_says_otherwise(tmp_path: Path) -> None:
    result = pipeline(
        tmp_path,
        f"""
        variables:
          GLOBAL: "g"
        default:
          image: registry.example/tools@{DIGEST}
          before_script: [echo default]
        plain:
          script: [a]
        own-image:
          image: alpine:3
          script: [a]
        no-defaults:
          inherit:
            default: false
            variables: false
          script: [a]
        some-defaults:
          inherit:
            default: [before_script]
          script: [a]
        """,
    )
    plain, own, none, some = (result.jobs[n] for n in result.jobs)
    assert plain.image is not None
    assert plain.image.digest == DIGEST
    assert plain.image.location.line == 4
    assert [line.text for line in plain.before_script] == ["echo default"]
    assert plain.variables["GLOBAL"].value == "g"
    assert own.image is not None
    assert own.image.digest is None
    assert none.image is None
    assert none.before_script == ()
    assert "GLOBAL" not in none.variables
    assert some.image is None
    assert [line.text for line in some.before_script] == ["echo default"]


def test_local_includes_are_merged_under_the_main_file(tmp_path: Path) -> None:
    result = pipeline(
        tmp_path,
        """
        include:
          - local: ci/jobs.yml
          - /ci/more.yml
        stages: [build]
        job:
          stage: build
        """,
        **{
            "ci/jobs.yml": "job:\n  script: [from-include]\n  stage: test\n",
            "ci/more.yml": "other:\n  script: [x]\n",
        },
    )
    job = result.jobs["job"]
    assert job.stage == "build"
    assert job.script[0].location == job.script[0].location.__class__("ci/jobs.yml", 2)
    assert set(result.jobs) == {"job", "other"}
    assert result.files == (CI, "ci/jobs.yml", "ci/more.yml")


def test_stages_workflow_needs_environment_and_id_tokens_are_modelled(
    tmp_path: Path,
) -> None:
    result = pipeline(
        tmp_path,
        """
        stages: [plan, apply]
        workflow:
          rules:
            - if: $CI_PIPELINE_SOURCE == "merge_request_event"
        plan:
          stage: plan
          script: [terraform plan -out=p]
        apply:
          stage: apply
          needs: [plan, {job: other, artifacts: false, optional: true}]
          environment: {name: prod, action: start, deployment_tier: production}
          resource_group: terraform-prod
          id_tokens:
            SIGSTORE_ID_TOKEN:
              aud: sigstore
          script: [terraform apply p]
        """,
    )
    assert result.stages == ("plan", "apply")
    assert result.stages_location.line == 1
    assert result.workflow_rules[0].location.line == 4
    apply = result.jobs["apply"]
    assert apply.needs is not None
    assert [(n.job, n.artifacts, n.optional) for n in apply.needs] == [
        ("plan", True, False),
        ("other", False, True),
    ]
    assert apply.environment is not None
    assert (apply.environment.name, apply.environment.deployment_tier) == (
        "prod",
        "production",
    )
    assert apply.resource_group == "terraform-prod"
    assert apply.id_tokens == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    assert apply.location.line == 8


@pytest.mark.parametrize(
    ("text", "others", "message"),
    [
        (
            "job:\n  extends: .missing\n",
            {},
            r"^\.gitlab-ci\.yml:2: 'job' extends unknown job '\.missing'",
        ),
        (
            ".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n",
            {},
            r"^\.gitlab-ci\.yml:\d: extends cycle: ",
        ),
        (
            "job:\n  script: !reference [.nothing, script]\n",
            {},
            r"^\.gitlab-ci\.yml:2: !reference \[\.nothing, script\] not found",
        ),
        (
            ".a:\n  script: !reference [.b, script]\n"
            ".b:\n  script: !reference [.a, script]\n",
            {},
            r"^\.gitlab-ci\.yml:\d: !reference \[\.\w, script\] is a cycle",
        ),
        (
            "job:\n  script: !reference just-text\n",
            {},
            r"^\.gitlab-ci\.yml:2: !reference must be a non-empty sequence",
        ),
        (
            "include:\n  - remote: https://example.com/ci.yml\n",
            {},
            r"^\.gitlab-ci\.yml:2: only include: local is allowed; found remote",
        ),
        (
            "include:\n  - project: group/other\n    file: ci.yml\n",
            {},
            r"^\.gitlab-ci\.yml:2: only include: local is allowed; found file, project",
        ),
        (
            "include: https://example.com/ci.yml\n",
            {},
            r"^\.gitlab-ci\.yml:1: remote include refused",
        ),
        (
            "include:\n  - local: ci/absent.yml\n",
            {},
            r"^\.gitlab-ci\.yml:2: included file 'ci/absent\.yml' does not exist",
        ),
        (
            "include:\n  - local: ../outside.yml\n",
            {},
            r"^\.gitlab-ci\.yml:2: include '\.\./outside\.yml' leaves the repository",
        ),
        (
            "include:\n  - local: ci/a.yml\n",
            {"ci/a.yml": "include:\n  - local: .gitlab-ci.yml\n"},
            r"^ci/a\.yml:2: include cycle through \.gitlab-ci\.yml",
        ),
        (
            "job:\n  script: [a]\njob:\n  script: [b]\n",
            {},
            r"^\.gitlab-ci\.yml:3: duplicate key 'job'",
        ),
        ("job: [a\n", {}, r"^\.gitlab-ci\.yml:\d: invalid YAML"),
        ("- a\n- b\n", {}, r"^\.gitlab-ci\.yml:1: the root must be a mapping"),
        ("job: text\n", {}, r"^\.gitlab-ci\.yml:1: job 'job' must be a mapping"),
        ("job:\n  script: [{a: b}]\n", {}, r"^\.gitlab-ci\.yml:2: a script must be"),
        ("stages: build\n", {}, r"^\.gitlab-ci\.yml:1: stages must be a list"),
        (
            "job:\n  script: [a]\n  rules: {if: x}\n",
            {},
            r"^\.gitlab-ci\.yml:3: rules must be a list",
        ),
    ],
    ids=[
        "extends-missing",
        "extends-cycle",
        "reference-missing",
        "reference-cycle",
        "reference-malformed",
        "include-remote",
        "include-project",
        "include-url-string",
        "include-missing-file",
        "include-escaping-root",
        "include-cycle",
        "duplicate-job",
        "invalid-yaml",
        "root-not-mapping",
        "job-not-mapping",
        "script-not-text",
        "stages-not-list",
        "rules-not-list",
    ],
)
def test_malformed_configuration_is_refused_with_file_and_line(
    tmp_path: Path, text: str, others: dict[str, str], message: str
) -> None:
    with pytest.raises(LoadError, match=message):
        pipeline(tmp_path, text, **others)


def test_remote_include_is_refused_without_opening_a_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(LoadError, match=r"^\.gitlab-ci\.yml:2: only include: local"):
        pipeline(tmp_path, "include:\n  - template: Jobs/SAST.gitlab-ci.yml\n")


def test_wildcard_includes_and_spec_inputs_are_refused_not_guessed(
    tmp_path: Path,
) -> None:
    with pytest.raises(LoadError, match=r"^\.gitlab-ci\.yml:1: wildcard include"):
        pipeline(tmp_path, "include: 'ci/*.yml'\n")
    with pytest.raises(LoadError, match=r"^\.gitlab-ci\.yml:1: spec:inputs is not"):
        pipeline(tmp_path, "spec:\n  inputs: {}\n---\njob:\n  script: [a]\n")


def test_legacy_global_image_and_before_script_act_as_defaults(tmp_path: Path) -> None:
    result = pipeline(
        tmp_path,
        f"""
        image: registry.example/tools@{DIGEST}
        before_script: [echo legacy]
        job:
          script: [a]
        """,
    )
    job = result.jobs["job"]
    assert job.image is not None
    assert job.image.location.line == 1
    assert [line.text for line in job.before_script] == ["echo legacy"]


def test_missing_configuration_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^\.gitlab-ci\.yml: the pipeline"):
        load(Evidence(Options(root=tmp_path)))


def test_include_reads_are_recorded_as_inputs(tmp_path: Path) -> None:
    write(tmp_path, {CI: "include: /ci/a.yml\n", "ci/a.yml": "job:\n  script: [a]\n"})
    evidence = Evidence(Options(root=tmp_path))
    load(evidence)
    assert set(evidence.inputs) == {CI, "ci/a.yml"}


def _refusal(root: Path, data: bytes) -> str | None:
    (root / CI).write_bytes(data)
    try:
        load(Evidence(Options(root=root)))
    except LoadError as error:
        return str(error)
    return None


_FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "job:",
            "  extends: .t",
            ".t:",
            "  extends: job",
            "  script: !reference [.t, script]",
            "  script: [a, b]",
            "  <<: *x",
            ".x: &x {stage: build}",
            "include: /ci.yml",
            "include: {remote: x}",
            "default: {image: a}",
            "  needs: [job]",
            "  environment: prod",
            "  rules: [{if: x}]",
            "stages: [a]",
            "- item",
            "  - nested",
            "x: !tag y",
            "  needs: [{job: 3}]",
            "  environment: {name: 5}",
            "  image: {name: 3}",
            "  variables: {A: {value: 3}, B: [1]}",
            "  inherit: {default: 3}",
            "  artifacts: {paths: 3, reports: 4}",
            "workflow: {rules: 3}",
            "  extends: 3",
        ]
    ),
    max_size=12,
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.one_of(st.binary(max_size=300), _FRAGMENTS.map("\n".join)))
def test_random_input_never_raises_anything_but_load_error(
    tmp_path: Path, data: bytes | str
) -> None:
    raw = data.encode() if isinstance(data, str) else data
    message = _refusal(tmp_path, raw)
    assert message is None or message.startswith((CI, "ci.yml"))
