"""Controls that close the gaps a permissive edit could slip through.

Each test edits a copy of the real repository the way a hurried change
would, and asserts the finding's file, line and message.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import failures, run_control

PROD_KUSTOMIZATION = "k8s/overlays/prod/kustomization.yaml"
DEPLOYMENT = "k8s/base/deployment.yaml"
NETWORK_POLICIES = "k8s/base/networkpolicy.yaml"
PIPELINE = ".gitlab-ci.yml"


def edit(root: Path, relative: str, old: str, new: str) -> int:
    """Replace old (which must occur once) and return the 1-based line of new."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative}: {old!r} occurs {text.count(old)} times"
    before = text[: text.index(old)]
    path.write_text(text.replace(old, new), encoding="utf-8")
    return before.count("\n") + 1


def test_the_repository_passes_the_exposure_and_merge_check_controls(
    repo_copy: Path,
) -> None:
    for control_id in (
        "K8S-NETWORK-PRIVATE-PEERS",
        "K8S-SPREAD-AND-PDB",
        "CI-COMPLIANCE-BLOCKING",
        "CI-SIGN-KEYLESS",
    ):
        assert failures(run_control(control_id, repo_copy)) == [], control_id


def test_egress_to_the_internet_fails_k8s_network_private_peers(
    repo_copy: Path,
) -> None:
    line = edit(
        repo_copy,
        PROD_KUSTOMIZATION,
        "        value: 10.30.0.0/16\n",
        "        value: 0.0.0.0/0\n",
    )
    found = failures(run_control("K8S-NETWORK-PRIVATE-PEERS", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(
        f"{PROD_KUSTOMIZATION}:{line}: [K8S-NETWORK-PRIVATE-PEERS THR-5,CON-5,THR-6] "
        "prod:Namespace/tenon: NetworkPolicy/runtime-api-egress-vpc: egress rule 0 "
        "opens 0.0.0.0/0, which reaches beyond the private address ranges"
    )


def test_an_allow_rule_without_peers_fails_k8s_network_private_peers(
    repo_copy: Path,
) -> None:
    line = edit(
        repo_copy,
        NETWORK_POLICIES,
        "    - from:\n"
        "        - namespaceSelector:\n"
        "            matchLabels:\n"
        "              kubernetes.io/metadata.name: ingress-nginx\n"
        "      ports:\n",
        "    - ports:\n",
    )
    found = failures(run_control("K8S-NETWORK-PRIVATE-PEERS", repo_copy))
    assert len(found) == 3  # one per environment: the rule lives in the base
    assert all(
        f"{NETWORK_POLICIES}:{line}: [K8S-NETWORK-PRIVATE-PEERS" in finding
        and "NetworkPolicy/runtime-api-ingress: ingress rule 0 has no 'from', so "
        "it allows every peer"
        in finding
        for finding in found
    ), found


def test_best_effort_zone_spread_fails_k8s_spread_and_pdb(repo_copy: Path) -> None:
    line = edit(
        repo_copy,
        DEPLOYMENT,
        "          topologyKey: topology.kubernetes.io/zone\n"
        "          whenUnsatisfiable: DoNotSchedule\n",
        "          topologyKey: topology.kubernetes.io/zone\n"
        "          whenUnsatisfiable: ScheduleAnyway\n",
    )
    found = failures(run_control("K8S-SPREAD-AND-PDB", repo_copy))
    assert len(found) == 3
    assert all(
        finding.startswith(f"{DEPLOYMENT}:{line + 1}: [K8S-SPREAD-AND-PDB")
        and "Deployment runtime-api may place every pod in one zone" in finding
        and "found: whenUnsatisfiable: ScheduleAnyway" in finding
        for finding in found
    ), found


def test_a_compliance_job_allowed_to_fail_fails_ci_compliance_blocking(
    repo_copy: Path,
) -> None:
    line = edit(
        repo_copy,
        PIPELINE,
        "compliance:\n  stage: compliance\n",
        "compliance:\n  stage: compliance\n  allow_failure: true\n",
    )
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert found == [
        f"{PIPELINE}:{line + 2}: [CI-COMPLIANCE-BLOCKING MIT-2,IAC-5,INV-2.2] "
        "job:compliance: job compliance runs the compliance suite but may fail "
        "without blocking the pipeline (expected: no allow_failure (the default "
        "false); found: allow_failure: True) fix: Remove allow_failure and when: "
        "manual from every job (and every rule of it) that runs pytest compliance/."
    ]


def test_a_manual_compliance_job_fails_ci_compliance_blocking(repo_copy: Path) -> None:
    line = edit(
        repo_copy,
        PIPELINE,
        "compliance:\n  stage: compliance\n",
        "compliance:\n  stage: compliance\n  when: manual\n",
    )
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(f"{PIPELINE}:{line + 2}: [CI-COMPLIANCE-BLOCKING")
    assert "runs the compliance suite only when someone starts it" in found[0]


def test_signing_with_a_stored_key_fails_ci_sign_keyless(repo_copy: Path) -> None:
    line = edit(
        repo_copy,
        PIPELINE,
        "    - cosign sign --yes --bundle build/runtime-api.sigstore.json",
        "    - cosign sign --yes --key env://COSIGN_PRIVATE_KEY --bundle "
        "build/runtime-api.sigstore.json",
    )
    found = failures(run_control("CI-SIGN-KEYLESS", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(f"{PIPELINE}:{line}: [CI-SIGN-KEYLESS FLOW-3] job:sign:")
    assert "cosign signs with a stored or hardware key, not keyless" in found[0]
    assert "found: --key" in found[0]


def test_a_swallowed_suite_exit_status_fails_ci_compliance_blocking(
    repo_copy: Path,
) -> None:
    edit(
        repo_copy,
        PIPELINE,
        "      --junit-report reports/junit.xml\n",
        "      --junit-report reports/junit.xml || true\n",
    )
    text = (repo_copy / PIPELINE).read_text(encoding="utf-8").splitlines()
    command_line = text.index("      python3 -m pytest compliance/ --strict") + 1
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(f"{PIPELINE}:{command_line}: [CI-COMPLIANCE-BLOCKING")
    assert (
        "job compliance discards the compliance suite's exit status: '|| ...' runs "
        "when the suite fails and the line succeeds" in found[0]
    )


def test_a_suite_piped_without_pipefail_fails_ci_compliance_blocking(
    repo_copy: Path,
) -> None:
    edit(
        repo_copy,
        PIPELINE,
        "      --junit-report reports/junit.xml\n",
        "      --junit-report reports/junit.xml | tee reports/suite.log\n",
    )
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert len(found) == 1
    assert "a pipe without 'set -o pipefail'" in found[0]


DOCKERFILE = "docker/Dockerfile"


def test_add_of_a_url_without_checksum_fails_docker_remote_sources_pinned(
    repo_copy: Path,
) -> None:
    line = edit(
        repo_copy,
        DOCKERFILE,
        "WORKDIR /build\n",
        "WORKDIR /build\nADD https://downloads.example/tool.tar.gz /build/t.tar.gz\n",
    )
    found = failures(run_control("DOCKER-REMOTE-SOURCES-PINNED", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(
        f"{DOCKERFILE}:{line + 1}: [DOCKER-REMOTE-SOURCES-PINNED INV-1.2,TST-P2,CON-5]"
        " Dockerfile:build: ADD fetches https://downloads.example/tool.tar.gz at "
        "build time without a checksum"
    )


def test_add_of_a_url_with_a_sha256_checksum_passes(repo_copy: Path) -> None:
    edit(
        repo_copy,
        DOCKERFILE,
        "WORKDIR /build\n",
        "WORKDIR /build\nADD --checksum=sha256:"
        + "a" * 64
        + " https://downloads.example/tool.tar.gz /build/tool.tar.gz\n",
    )
    assert failures(run_control("DOCKER-REMOTE-SOURCES-PINNED", repo_copy)) == []


def test_a_download_piped_into_a_shell_fails(repo_copy: Path) -> None:
    line = edit(
        repo_copy,
        DOCKERFILE,
        "WORKDIR /build\n",
        "WORKDIR /build\nRUN curl -fsSL https://get.example/install.sh | sh\n",
    )
    found = failures(run_control("DOCKER-REMOTE-SOURCES-PINNED", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(f"{DOCKERFILE}:{line + 1}: [DOCKER-REMOTE-SOURCES")
    assert "RUN pipes a download straight into a shell" in found[0]


def test_a_rule_that_lets_the_suite_fail_fails_ci_compliance_blocking(
    repo_copy: Path,
) -> None:
    line = edit(
        repo_copy,
        PIPELINE,
        "  stage: compliance\n  extends: .python\n  needs: []\n"
        "  rules: !reference [.on-merge-requests-and-main, rules]\n",
        "  stage: compliance\n  extends: .python\n  needs: []\n  rules:\n"
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"\n'
        "      allow_failure: true\n",
    )
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert len(found) == 1
    assert found[0].startswith(f"{PIPELINE}:{line + 4}: [CI-COMPLIANCE-BLOCKING")
    assert (
        "a rule of job compliance lets the compliance suite fail or wait" in (found[0])
    )


def test_set_plus_e_before_the_suite_fails_ci_compliance_blocking(
    repo_copy: Path,
) -> None:
    edit(
        repo_copy,
        PIPELINE,
        "    - mkdir -p build reports\n",
        "    - set +e\n    - mkdir -p build reports\n",
    )
    found = failures(run_control("CI-COMPLIANCE-BLOCKING", repo_copy))
    assert len(found) == 1
    assert "'set +e' lets the script go on after the suite fails" in found[0]
