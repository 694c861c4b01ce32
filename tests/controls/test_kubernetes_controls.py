"""Kubernetes controls: the real overlays pass, realistic edits fail at file:line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, cases, run_case
from tenon_compliance.evidence import Evidence, Options
from tests.conftest import REPO, failures, run_control

BASE_DEPLOYMENT = "k8s/base/deployment.yaml"
KUSTOMIZATION = "k8s/overlays/{env}/kustomization.yaml"
KUBERNETES_CONTROLS = [c.id for c in all_controls() if c.id.startswith("K8S-")]


def line_with(root: Path, relative: str, needle: str) -> int:
    """The 1-based line of the only line of a file containing needle."""
    lines = [
        number
        for number, line in enumerate((root / relative).read_text().splitlines(), 1)
        if needle in line
    ]
    assert len(lines) == 1, f"{relative}: {needle!r} found on lines {lines}"
    return lines[0]


def replace(root: Path, relative: str, old: str, new: str) -> None:
    """Replace the only occurrence of old in a file of the copy."""
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative}: {old!r} is not unique"
    path.write_text(text.replace(old, new))


def add_patch(root: Path, env: str, patch: str) -> str:
    """Append an inline patch entry to an overlay's patches; return its file."""
    kustomization = KUSTOMIZATION.format(env=env)
    replace(root, kustomization, "patches:\n", f"patches:\n{patch}")
    return kustomization


def add_resource(root: Path, env: str, name: str, text: str) -> str:
    """Add a resource file to an overlay; return its repository path."""
    (root / f"k8s/overlays/{env}/{name}").write_text(text)
    replace(
        root, KUSTOMIZATION.format(env=env), "resources:\n", f"resources:\n  - {name}\n"
    )
    return f"k8s/overlays/{env}/{name}"


def finding(control_id: str, root: Path, location: str, subject: str) -> str:
    """The one failure line of control at location for subject (asserted to exist)."""
    lines = failures(run_control(control_id, root))
    matching = [
        line
        for line in lines
        if line.startswith(f"{location}: [{control_id} ") and f"] {subject}: " in line
    ]
    assert matching, f"no finding at {location} for {subject}; got {lines}"
    return matching[0]


# The real repository passes every Kubernetes control.


@pytest.fixture(scope="module")
def real_evidence() -> Evidence:
    return Evidence(Options(root=REPO))


@pytest.mark.parametrize("control_id", KUBERNETES_CONTROLS)
def test_real_overlays_pass(control_id: str, real_evidence: Evidence) -> None:
    control = next(c for c in all_controls() if c.id == control_id)

    results = [run_case(case, real_evidence) for case in cases(control, real_evidence)]

    assert results
    assert [r for r in results if r.outcome is not Outcome.PASSED] == []


def test_subjects_are_discovered_from_the_rendered_overlays(
    real_evidence: Evidence,
) -> None:
    control = next(c for c in all_controls() if c.id == "K8S-REPLICAS")

    ids = [case.id for case in cases(control, real_evidence)]

    assert ids == [
        "K8S-REPLICAS[dev:Deployment/runtime-api]",
        "K8S-REPLICAS[stage:Deployment/runtime-api]",
        "K8S-REPLICAS[prod:Deployment/runtime-api]",
    ]


# ORC-1, ORC-2.


def test_bare_pod_fails_orc_1(repo_copy: Path) -> None:
    pod = add_resource(
        repo_copy,
        "prod",
        "debug-pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\n  namespace: tenon\n"
        "spec:\n  containers:\n    - name: debug\n      image: busybox\n",
    )

    line = finding("K8S-WORKLOAD-KIND", repo_copy, f"{pod}:2", "prod:Pod/debug")

    assert "Pod debug runs pods outside a Deployment or StatefulSet" in line


def test_prod_overlay_with_two_replicas_fails_orc_2(repo_copy: Path) -> None:
    kustomization = KUSTOMIZATION.format(env="prod")
    replace(repo_copy, kustomization, "count: 3", "count: 2")
    number = line_with(repo_copy, kustomization, "count: 2")

    line = finding(
        "K8S-REPLICAS",
        repo_copy,
        f"{kustomization}:{number}",
        "prod:Deployment/runtime-api",
    )

    assert (
        "runs fewer than 3 replicas in prod (expected: spec.replicas >= 3; found: 2)"
        in line
    )


def test_prod_overlay_without_deployment_fails_instead_of_passing(
    repo_copy: Path,
) -> None:
    replace(
        repo_copy,
        KUSTOMIZATION.format(env="prod"),
        "replicas:\n  - name: runtime-api\n    count: 3\n",
        "",
    )
    add_patch(
        repo_copy,
        "prod",
        "  - patch: |-\n      $patch: delete\n      apiVersion: apps/v1\n"
        "      kind: Deployment\n      metadata:\n        name: runtime-api\n"
        "        namespace: tenon\n",
    )

    line = finding(
        "K8S-REPLICAS",
        repo_copy,
        KUSTOMIZATION.format(env="prod"),
        "prod:Deployment/(none)",
    )

    assert "the prod overlay renders no Deployment" in line


def test_missing_environment_overlay_fails(repo_copy: Path) -> None:
    shutil.rmtree(repo_copy / "k8s/overlays/stage")

    line = finding("K8S-PROBES", repo_copy, "k8s/overlays/stage", "stage:overlay")

    assert "environment stage has no overlay" in line


def test_autoscaler_below_the_floor_fails_orc_2(repo_copy: Path) -> None:
    hpa = add_resource(
        repo_copy,
        "prod",
        "hpa.yaml",
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
        "  name: runtime-api\n  namespace: tenon\nspec:\n  scaleTargetRef:\n"
        "    apiVersion: apps/v1\n    kind: Deployment\n    name: runtime-api\n"
        "  minReplicas: 1\n  maxReplicas: 6\n",
    )

    line = finding(
        "K8S-REPLICAS", repo_copy, f"{hpa}:11", "prod:Deployment/runtime-api"
    )

    assert "HorizontalPodAutoscaler runtime-api may scale runtime-api below 3" in line


# INV-1.2, INV-1.1.


def test_image_tag_instead_of_digest_fails_inv_1_2(repo_copy: Path) -> None:
    kustomization = KUSTOMIZATION.format(env="stage")
    text = (repo_copy / kustomization).read_text()
    digest_line = next(line for line in text.splitlines() if "digest:" in line)
    replace(repo_copy, kustomization, digest_line, "    newTag: 1.4.2")
    number = line_with(repo_copy, kustomization, "newTag: 1.4.2")

    line = finding(
        "K8S-IMAGE-DIGEST",
        repo_copy,
        f"{kustomization}:{number}",
        "stage:Deployment/runtime-api",
    )

    assert "does not reference its image by digest alone" in line
    assert "found: registry.gitlab.com/tenon/runtime/runtime-api:1.4.2)" in line


def test_other_digest_in_prod_fails_inv_1_1(repo_copy: Path) -> None:
    kustomization = KUSTOMIZATION.format(env="prod")
    text = (repo_copy / kustomization).read_text()
    digest_line = next(line for line in text.splitlines() if "digest:" in line)
    other = "    digest: sha256:" + "a" * 64
    replace(repo_copy, kustomization, digest_line, other)
    number = line_with(repo_copy, kustomization, "a" * 64)

    line = finding(
        "K8S-IMAGE-SAME-ACROSS-ENVS", repo_copy, f"{kustomization}:{number}", "overlays"
    )

    assert (
        "Deployment runtime-api container runtime-api runs another image in prod"
        in line
    )


# PSA, security context, host isolation, token.


def test_namespace_enforcing_baseline_fails(repo_copy: Path) -> None:
    namespace = "k8s/base/namespace.yaml"
    replace(
        repo_copy,
        namespace,
        "pod-security.kubernetes.io/enforce: restricted",
        "pod-security.kubernetes.io/enforce: baseline",
    )
    number = line_with(repo_copy, namespace, "enforce: baseline")

    line = finding(
        "K8S-NAMESPACE-PSA-RESTRICTED",
        repo_copy,
        f"{namespace}:{number}",
        "dev:Namespace/tenon",
    )

    assert "does not enforce the restricted profile" in line
    assert 'found: "baseline"' in line


def test_prod_patch_running_as_root_fails_con_3_at_the_patch_line(
    repo_copy: Path,
) -> None:
    kustomization = add_patch(
        repo_copy,
        "prod",
        "  - target:\n      kind: Deployment\n      name: runtime-api\n"
        "    patch: |-\n      - op: replace\n"
        "        path: /spec/template/spec/containers/0/securityContext/runAsUser\n"
        "        value: 0\n",
    )
    number = line_with(repo_copy, kustomization, "value: 0")

    line = finding(
        "K8S-CONTAINER-SECURITY-CONTEXT",
        repo_copy,
        f"{kustomization}:{number}",
        "prod:Deployment/runtime-api",
    )

    assert (
        "container runtime-api: does not run as user 65532 "
        "(expected: runAsUser: 65532; found: 0)" in line
    )


def test_writable_root_filesystem_fails_at_the_base_line(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "readOnlyRootFilesystem: false")

    line = finding(
        "K8S-CONTAINER-SECURITY-CONTEXT",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "dev:Deployment/runtime-api",
    )

    assert "the root filesystem is writable" in line


def test_host_network_fails_con_5(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "      enableServiceLinks: false\n",
        "      enableServiceLinks: false\n      hostNetwork: true\n",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "hostNetwork: true")

    line = finding(
        "K8S-POD-HOST-ISOLATION",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "stage:Deployment/runtime-api",
    )

    assert "Deployment runtime-api sets hostNetwork" in line


def test_mounted_service_account_token_fails_thr_6(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "automountServiceAccountToken: false",
        "automountServiceAccountToken: true",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "automountServiceAccountToken: true")

    line = finding(
        "K8S-NO-SERVICE-ACCOUNT-TOKEN",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "prod:Deployment/runtime-api",
    )

    assert "mounts a service account token" in line


# Resources, spread, PDB, rollout.


def test_missing_memory_limit_fails(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        '              cpu: "1"\n              memory: 512Mi\n',
        '              cpu: "1"\n',
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "limits:")

    line = finding(
        "K8S-RESOURCES",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "dev:Deployment/runtime-api",
    )

    assert "container runtime-api has no memory limit" in line


def test_disruption_budget_selecting_other_pods_fails_thr_5(repo_copy: Path) -> None:
    pdb = "k8s/base/poddisruptionbudget.yaml"
    text = (repo_copy / pdb).read_text()
    (repo_copy / pdb).write_text(
        text.replace(
            "  selector:\n    matchLabels:\n      app.kubernetes.io/name: runtime-api",
            "  selector:\n    matchLabels:\n"
            "      app.kubernetes.io/name: runtime-worker",
        )
    )

    failed = failures(run_control("K8S-SPREAD-AND-PDB", repo_copy))

    assert any(
        "prod:Deployment/runtime-api: no PodDisruptionBudget selects the pods of "
        "Deployment runtime-api"
        in line
        and line.startswith(f"{BASE_DEPLOYMENT}:")
        for line in failed
    ), failed


def test_prod_budget_of_zero_fails_at_the_overlay_patch(repo_copy: Path) -> None:
    kustomization = KUSTOMIZATION.format(env="prod")
    replace(repo_copy, kustomization, "        value: 2\n", "        value: 0\n")
    number = line_with(repo_copy, kustomization, "value: 0")

    line = finding(
        "K8S-SPREAD-AND-PDB",
        repo_copy,
        f"{kustomization}:{number}",
        "prod:Deployment/runtime-api",
    )

    assert (
        "PodDisruptionBudget runtime-api lets every pod of runtime-api be evicted"
        in line
    )


def test_rollout_that_may_remove_serving_pods_fails_flow_5(repo_copy: Path) -> None:
    replace(repo_copy, BASE_DEPLOYMENT, "maxUnavailable: 0", "maxUnavailable: 1")
    number = line_with(repo_copy, BASE_DEPLOYMENT, "maxUnavailable: 1")

    line = finding(
        "K8S-ROLLOUT",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "stage:Deployment/runtime-api",
    )

    assert "may take serving pods down during a rollout" in line


def test_missing_progress_deadline_fails_fail_1(repo_copy: Path) -> None:
    replace(repo_copy, BASE_DEPLOYMENT, "  progressDeadlineSeconds: 300\n", "")
    number = line_with(repo_copy, BASE_DEPLOYMENT, "  replicas: 2") - 1  # spec:

    line = finding(
        "K8S-ROLLOUT",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "dev:Deployment/runtime-api",
    )

    assert "Deployment runtime-api sets no progress deadline" in line


# Probes and traffic.


def test_readiness_on_the_liveness_path_fails_prb_2(repo_copy: Path) -> None:
    replace(repo_copy, BASE_DEPLOYMENT, "path: /readyz", "path: /healthz")
    text = (repo_copy / BASE_DEPLOYMENT).read_text().splitlines()
    number = next(
        n
        for n, line in enumerate(text, 1)
        if "path: /healthz" in line and "readinessProbe" in "".join(text[n - 4 : n])
    )

    lines = failures(run_control("K8S-PROBES", repo_copy))
    at_line = [
        line for line in lines if line.startswith(f"{BASE_DEPLOYMENT}:{number}: ")
    ]

    assert any("readinessProbe does not GET /readyz" in line for line in at_line), lines
    assert any("liveness and readiness ask the same path" in line for line in at_line)


def test_missing_startup_probe_fails_flow_6(repo_copy: Path) -> None:
    text = (repo_copy / BASE_DEPLOYMENT).read_text()
    start = text.index("          startupProbe:")
    end = text.index("          # Liveness")
    (repo_copy / BASE_DEPLOYMENT).write_text(text[:start] + text[end:])

    failed = failures(run_control("K8S-PROBES", repo_copy))

    assert any(
        "prod:Deployment/runtime-api: container runtime-api has no startup probe"
        in line
        for line in failed
    ), failed


def test_service_publishing_not_ready_addresses_fails_prb_3(repo_copy: Path) -> None:
    service = "k8s/base/service.yaml"
    replace(
        repo_copy,
        service,
        "  type: ClusterIP\n",
        "  type: ClusterIP\n  publishNotReadyAddresses: true\n",
    )
    number = line_with(repo_copy, service, "publishNotReadyAddresses: true")

    line = finding(
        "K8S-SERVICE-READY-ONLY",
        repo_copy,
        f"{service}:{number}",
        "prod:Service/runtime-api",
    )

    assert "Service runtime-api publishes not-ready addresses" in line


# Secrets.


def test_literal_password_in_env_fails_sec_2_without_echoing_it(
    repo_copy: Path,
) -> None:
    secret = "n0t-a-real-pa55word"  # noqa: S105 - the value the control must hide
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "          imagePullPolicy: IfNotPresent\n",
        "          imagePullPolicy: IfNotPresent\n          env:\n"
        f"            - name: DB_PASSWORD\n              value: {secret}\n",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, secret)

    lines = failures(run_control("K8S-ENV-NO-SECRETS", repo_copy))
    line = finding(
        "K8S-ENV-NO-SECRETS",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "dev:Deployment/runtime-api",
    )

    assert "variable DB_PASSWORD holds a literal secret" in line
    assert all(secret not in failure for failure in lines)
    drift = failures(run_control("K8S-OVERLAY-DRIFT", repo_copy))
    assert all(secret not in failure for failure in drift)


def test_secret_key_ref_fails_sec_2(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "          imagePullPolicy: IfNotPresent\n",
        "          imagePullPolicy: IfNotPresent\n          env:\n"
        "            - name: API_TOKEN\n              valueFrom:\n"
        "                secretKeyRef:\n                  name: runtime\n"
        "                  key: token\n",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "secretKeyRef:")

    line = finding(
        "K8S-ENV-NO-SECRETS",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "stage:Deployment/runtime-api",
    )

    assert "variable API_TOKEN is read from a Secret" in line


def test_secret_object_in_an_overlay_fails_sec_1(repo_copy: Path) -> None:
    secret = add_resource(
        repo_copy,
        "dev",
        "db-secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: tenon\n"
        "stringData:\n  password: do-not-echo-me\n",
    )

    line = finding("K8S-NO-SECRET-OBJECTS", repo_copy, f"{secret}:1", "dev:overlay")

    assert "Secret db is defined in the overlay" in line
    assert "do-not-echo-me" not in line


def test_password_in_the_config_map_fails_at_its_line(repo_copy: Path) -> None:
    config = "k8s/overlays/stage/configmap.yaml"
    replace(
        repo_copy,
        config,
        '        "name": "tenon",\n',
        '        "name": "tenon",\n        "password": "s3cr3t-value",\n',
    )
    number = line_with(repo_copy, config, "s3cr3t-value")

    line = finding(
        "K8S-NO-SECRET-OBJECTS", repo_copy, f"{config}:{number}", "stage:overlay"
    )

    assert "ConfigMap runtime-api-config key runtime.json holds a credential" in line
    assert "s3cr3t-value" not in line


def test_csi_volume_naming_a_missing_provider_class_fails_sec_3(
    repo_copy: Path,
) -> None:
    spc = "k8s/overlays/prod/secret-provider-class.yaml"
    replace(
        repo_copy,
        spc,
        "  name: runtime-api-secrets\n",
        "  name: runtime-api-secrets-v2\n",
    )
    number = line_with(
        repo_copy, BASE_DEPLOYMENT, "secretProviderClass: runtime-api-secrets"
    )

    line = finding(
        "K8S-SECRETS-CSI",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "prod:Deployment/runtime-api",
    )

    assert "names a SecretProviderClass the prod overlay does not define" in line


def test_writable_csi_volume_fails_sec_3(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "            driver: secrets-store.csi.k8s.io\n            readOnly: true\n",
        "            driver: secrets-store.csi.k8s.io\n            readOnly: false\n",
    )
    number = line_with(repo_copy, BASE_DEPLOYMENT, "readOnly: false")

    line = finding(
        "K8S-SECRETS-CSI",
        repo_copy,
        f"{BASE_DEPLOYMENT}:{number}",
        "dev:Deployment/runtime-api",
    )

    assert "CSI volume secrets is not read-only" in line


def test_stage_reading_prod_secrets_fails_env_2(repo_copy: Path) -> None:
    spc = "k8s/overlays/stage/secret-provider-class.yaml"
    replace(
        repo_copy,
        spc,
        "tenon/stage/runtime-api/database",
        "tenon/prod/runtime-api/database",
    )
    number = line_with(repo_copy, spc, "tenon/prod/runtime-api/database")

    line = finding(
        "K8S-SECRET-PATHS-PER-ENV",
        repo_copy,
        f"{spc}:{number}",
        "stage:SecretProviderClass/runtime-api-secrets",
    )

    assert "reads a secret outside tenon/stage/" in line
    assert "found: tenon/prod/runtime-api/database" in line


# Network, RBAC, admission.


def test_default_deny_without_egress_fails_thr_5(repo_copy: Path) -> None:
    policy = "k8s/base/networkpolicy.yaml"
    replace(
        repo_copy,
        policy,
        "  podSelector: {}\n  policyTypes:\n    - Ingress\n    - Egress\n",
        "  podSelector: {}\n  policyTypes:\n    - Ingress\n",
    )

    line = finding(
        "K8S-NETWORK-DEFAULT-DENY",
        repo_copy,
        "k8s/base/namespace.yaml:4",
        "prod:Namespace/tenon",
    )

    assert "has no default-deny NetworkPolicy for ingress and egress" in line


@pytest.mark.parametrize(
    ("resources", "granted"),
    [
        pytest.param('"pods", "pods/exec"', "pods/exec", id="exec"),
        pytest.param('"*"', "nodes/proxy, pods/attach, pods/exec", id="wildcard"),
        pytest.param(
            '"pods/*"', "pods/attach, pods/exec, pods/portforward", id="pods-star"
        ),
    ],
)
def test_role_granting_pod_access_fails_acc_2(
    repo_copy: Path, resources: str, granted: str
) -> None:
    rbac = "k8s/base/rbac.yaml"
    replace(
        repo_copy,
        rbac,
        '    resources: ["pods", "pods/log", "events", "services", "endpoints"]',
        f"    resources: [{resources}]",
    )
    number = line_with(repo_copy, rbac, f"resources: [{resources}]")

    line = finding(
        "K8S-RBAC-NO-POD-ACCESS", repo_copy, f"{rbac}:{number}", "prod:overlay"
    )

    assert f"Role tenon-viewer grants {granted}" in line


def test_binding_that_only_warns_fails_mit_3(repo_copy: Path) -> None:
    policy = "k8s/base/admission-policy.yaml"
    replace(
        repo_copy,
        policy,
        "validationActions: [Deny]",
        "validationActions: [Warn, Audit]",
    )
    number = line_with(repo_copy, policy, "validationActions") - 2

    line = finding(
        "K8S-ADMISSION-DENY-POD-ACCESS", repo_copy, f"{policy}:{number}", "dev:overlay"
    )

    assert (
        "ValidatingAdmissionPolicyBinding tenon-deny-pod-access: "
        "validationActions has no Deny" in line
    )


def test_policy_not_matching_connect_fails_inv_2_1(repo_copy: Path) -> None:
    policy = "k8s/base/admission-policy.yaml"
    replace(repo_copy, policy, 'operations: ["CONNECT"]', 'operations: ["CREATE"]')
    number = line_with(repo_copy, policy, "matchConstraints:")

    line = finding(
        "K8S-ADMISSION-DENY-POD-ACCESS", repo_copy, f"{policy}:{number}", "prod:overlay"
    )

    assert (
        "no ValidatingAdmissionPolicy matches CONNECT on "
        "pods/exec, pods/attach, pods/portforward" in line
    )


# FLOW-3: image admission identity.


def test_image_policy_admitting_another_branch_fails_flow_3(repo_copy: Path) -> None:
    policy = "k8s/base/cluster-image-policy.yaml"
    replace(repo_copy, policy, "@refs/heads/main", "@refs/heads/develop")
    number = line_with(repo_copy, policy, "- issuer:")

    line = finding(
        "K8S-IMAGE-POLICY-IDENTITY", repo_copy, f"{policy}:{number}", "prod:overlay"
    )

    assert "admits a signer other than compliance/signing-policy.yaml's" in line
    assert "refs/heads/develop" in line


def test_image_policy_with_subject_regexp_fails_flow_3(repo_copy: Path) -> None:
    policy = "k8s/base/cluster-image-policy.yaml"
    replace(
        repo_copy,
        policy,
        "            subject: https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/main",
        "            subjectRegExp: https://gitlab.com/tenon/.*",
    )
    number = line_with(repo_copy, policy, "- issuer:")

    line = finding(
        "K8S-IMAGE-POLICY-IDENTITY", repo_copy, f"{policy}:{number}", "stage:overlay"
    )

    assert "subjectRegExp" in line


# TST-U1: schemas.


def test_misspelt_probe_field_fails_tst_u1(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "          readinessProbe:\n",
        "          readinesProbe:\n",
    )

    failed = failures(run_control("K8S-MANIFEST-SCHEMA", repo_copy))

    assert any(
        line.startswith(f"{BASE_DEPLOYMENT}:")
        and "dev:overlay: Deployment runtime-api:" in line
        and "readinesProbe" in line
        for line in failed
    ), failed


def test_custom_resource_without_schema_fails_tst_u1(repo_copy: Path) -> None:
    widget = add_resource(
        repo_copy,
        "dev",
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
        "  namespace: tenon\nspec:\n  size: 1\n",
    )

    line = finding("K8S-MANIFEST-SCHEMA", repo_copy, f"{widget}:1", "dev:overlay")

    assert "Widget w: no schema for example.com/v1/Widget" in line


# THR-1: drift between overlays.


def test_probe_period_changed_only_in_prod_is_drift(repo_copy: Path) -> None:
    kustomization = add_patch(
        repo_copy,
        "prod",
        "  - target:\n      kind: Deployment\n      name: runtime-api\n"
        "    patch: |-\n      - op: replace\n"
        "        path: /spec/template/spec/containers/0/readinessProbe/periodSeconds\n"
        "        value: 30\n",
    )
    number = line_with(repo_copy, kustomization, "value: 30")

    line = finding(
        "K8S-OVERLAY-DRIFT", repo_copy, f"{kustomization}:{number}", "overlays"
    )

    assert re.search(
        r"Deployment runtime-api differs in prod at "
        r"spec\.template\.spec\.containers\.0\.readinessProbe\.periodSeconds "
        r"\(expected: the value of the other environments \(5\); found: 30\)",
        line,
    )


def test_object_only_in_one_overlay_is_drift(repo_copy: Path) -> None:
    add_resource(
        repo_copy,
        "stage",
        "extra-config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
        "  namespace: tenon\n"
        "data:\n  a: b\n",
    )

    failed = failures(run_control("K8S-OVERLAY-DRIFT", repo_copy))

    assert any(
        "ConfigMap extra is missing from the dev overlay" in line for line in failed
    )


def test_replicas_and_config_differences_are_not_drift(real_evidence: Evidence) -> None:
    control = next(c for c in all_controls() if c.id == "K8S-OVERLAY-DRIFT")

    results = [run_case(case, real_evidence) for case in cases(control, real_evidence)]

    assert [r.outcome for r in results] == [Outcome.PASSED]


# Refinements: opt-in labels, policy scope, nested schemas, no false credentials.


def test_namespace_not_opted_in_to_image_admission_fails_flow_3(
    repo_copy: Path,
) -> None:
    namespace = "k8s/base/namespace.yaml"
    replace(repo_copy, namespace, '    policy.sigstore.dev/include: "true"\n', "")
    number = line_with(repo_copy, namespace, "labels:")

    line = finding(
        "K8S-IMAGE-POLICY-IDENTITY", repo_copy, f"{namespace}:{number}", "dev:overlay"
    )

    assert "namespace tenon is not opted in to image policy admission" in line


def test_admission_policy_scoped_to_another_namespace_fails_inv_2_1(
    repo_copy: Path,
) -> None:
    policy = "k8s/base/admission-policy.yaml"
    replace(
        repo_copy,
        policy,
        "  matchConstraints:\n",
        "  matchConstraints:\n    namespaceSelector:\n      matchLabels:\n"
        "        kubernetes.io/metadata.name: sandbox\n",
    )
    number = line_with(repo_copy, policy, "sandbox") - 2  # namespaceSelector:

    line = finding(
        "K8S-ADMISSION-DENY-POD-ACCESS",
        repo_copy,
        f"{policy}:{number}",
        "stage:overlay",
    )

    assert "does not apply to namespace tenon" in line


def test_bad_objects_parameter_fails_tst_u1_at_the_parameter(repo_copy: Path) -> None:
    spc = "k8s/overlays/prod/secret-provider-class.yaml"
    replace(repo_copy, spc, 'objectType: "secretsmanager"', 'objectType: "vault"')
    number = line_with(repo_copy, spc, "objects: |")

    line = finding("K8S-MANIFEST-SCHEMA", repo_copy, f"{spc}:{number}", "prod:overlay")

    assert "SecretProviderClass runtime-api-secrets: 'vault' is not one of" in line
    assert "(at /spec/parameters/objects/0/objectType)" in line


def test_secret_file_path_in_env_is_not_a_credential(repo_copy: Path) -> None:
    replace(
        repo_copy,
        BASE_DEPLOYMENT,
        "          imagePullPolicy: IfNotPresent\n",
        "          imagePullPolicy: IfNotPresent\n          env:\n"
        "            - name: DB_PASSWORD_FILE\n"
        "              value: /var/run/secrets/tenon/db-password\n"
        "            - name: BYPASS_CACHE\n              value: 'true'\n",
    )

    results = run_control("K8S-ENV-NO-SECRETS", repo_copy)

    assert failures(results) == []
