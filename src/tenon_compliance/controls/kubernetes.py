"""Controls over the rendered Kubernetes overlays (k8s/overlays/<env>).

Subjects are discovered from what kustomize renders, so a new workload is
checked without touching a test:

- ``<env>:Deployment/<name>`` (and StatefulSets, and any other kind that runs
  pods) for the per-workload controls;
- ``<env>:Namespace/<name>`` for namespace-wide controls;
- ``<env>:overlay`` for controls over every object of one overlay;
- ``overlays`` for the controls that compare environments.

An environment of ``ENVIRONMENTS`` with no overlay, or an overlay that renders
no Deployment, is a subject of its own that fails: it is never skipped.
Findings cite the source line the loader traced (an overlay's patch or
``replicas:`` entry when it set the value, else the base), and never echo a
secret value: only its key and location.

Known limits, each a deliberate trade-off:

- Credential detection (K8S-ENV-NO-SECRETS, K8S-NO-SECRET-OBJECTS) is a
  heuristic over names (password, token, api_key, ...) and value shapes (AWS
  key ids, PEM private keys, URLs with a password); a secret with an
  innocent name and no recognisable shape passes. File paths are not flagged.
- K8S-ADMISSION-DENY-POD-ACCESS checks what the API server matches (CONNECT on
  the subresources, the namespace scope, failurePolicy, the Deny binding) and
  that a validation exists; it does not evaluate the CEL expression itself.
- K8S-SECRETS-CSI asks every Deployment and StatefulSet for a Secrets Store
  CSI volume, because every TENON workload reads database credentials; a
  future workload without secrets would need a waiver.
- K8S-IMAGE-POLICY-IDENTITY matches ClusterImagePolicy globs with ``**``
  (any characters) and ``*`` (within one path segment), the policy
  controller's documented meaning, not its exact implementation.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
from referencing import Registry, Resource

from tenon_compliance.controls.base import control
from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import ENVIRONMENTS, Evidence
from tenon_compliance.loaders.kubernetes import (
    OVERLAYS,
    KubeObject,
    KubernetesModel,
    Overlay,
    kubernetes,
)
from tenon_compliance.loaders.yaml_lines import load_documents, plain
from tenon_compliance.model import Location, Method, Severity, Subject, Violation

NAMESPACE = "tenon"
RUNTIME_UID = 65532
PROD_MIN_REPLICAS = 3
MIN_REPLICAS = 2
CSI_DRIVER = "secrets-store.csi.k8s.io"
SIGNING_POLICY = "compliance/signing-policy.yaml"
SIGSTORE_INCLUDE = "policy.sigstore.dev/include"
SCHEMAS = "k8s/schemas"
KUBERNETES_VERSION = "1.32.0"
PSA_MODES = ("enforce", "audit", "warn")
DENIED_SUBRESOURCES = ("pods/exec", "pods/attach", "pods/portforward")
RBAC_FORBIDDEN = (*DENIED_SUBRESOURCES, "nodes/proxy")

# Where each kind that runs pods keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
CONTAINER_LISTS = ("initContainers", "containers")

# A name part that says "credential": DB_PASSWORD, api-key, client_secret,
# but not BYPASS, SECRETS_DIR or AUTHOR (letters may not touch the word).
SECRET_NAME = re.compile(
    r"(?<![a-z])(pass(word|wd|phrase)?|secret|token|api_?key|credentials?"
    r"|private_?key|access_?key|client_?secret|dsn|connection_?string"
    r"|auth_?token)(?![a-z])",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bglpat-[0-9A-Za-z_-]{10,}|\bgh[pousr]_[0-9A-Za-z]{20,}|\bxox[abp]-"
    r"|[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"
)
DIGEST_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)@sha256:[0-9a-f]{64}$"
)


# --- evidence and selectors --------------------------------------------------


def _model(evidence: Evidence) -> KubernetesModel:
    return kubernetes(evidence)


def _missing_overlay(env: str) -> Subject:
    return Subject(f"{env}:overlay", Location(f"{OVERLAYS}/{env}"), None)


def _overlays(evidence: Evidence) -> Iterator[tuple[str, Overlay | None]]:
    """Every required environment (present or not), then any extra overlay."""
    model = _model(evidence)
    for env in ENVIRONMENTS:
        yield env, model.overlays.get(env)
    for env, overlay in model.overlays.items():
        if env not in ENVIRONMENTS:
            yield env, overlay


def _per_overlay(
    evidence: Evidence, pick: Callable[[Overlay], list[KubeObject]], what: str
) -> Iterator[Subject]:
    """Subjects picked from each overlay; an empty pick is a failing subject."""
    for env, overlay in _overlays(evidence):
        if overlay is None:
            yield _missing_overlay(env)
            continue
        picked = pick(overlay)
        for obj in picked:
            yield Subject(obj.id, obj.location(), obj)
        if not picked:
            yield Subject(f"{env}:{what}/(none)", Location(overlay.kustomization), None)


def workloads(evidence: Evidence) -> Iterator[Subject]:
    """The Deployments and StatefulSets of every overlay (none is a failure)."""
    yield from _per_overlay(
        evidence, lambda overlay: overlay.of_kind(*WORKLOAD_KINDS), "Deployment"
    )


def pod_runners(evidence: Evidence) -> Iterator[Subject]:
    """Every object that runs pods, whatever its kind (ORC-1 checks the kind)."""
    yield from _per_overlay(
        evidence, lambda overlay: overlay.of_kind(*POD_SPEC_PATHS), "Deployment"
    )


def namespaces(evidence: Evidence) -> Iterator[Subject]:
    """The Namespace objects of every overlay (an overlay with none fails)."""
    yield from _per_overlay(
        evidence, lambda overlay: overlay.of_kind("Namespace"), "Namespace"
    )


def services(evidence: Evidence) -> Iterator[Subject]:
    """The Services of every overlay (an overlay with none fails)."""
    yield from _per_overlay(
        evidence, lambda overlay: overlay.of_kind("Service"), "Service"
    )


def secret_provider_classes(evidence: Evidence) -> Iterator[Subject]:
    """The SecretProviderClasses of every overlay (an overlay with none fails)."""
    yield from _per_overlay(
        evidence,
        lambda overlay: overlay.of_kind("SecretProviderClass"),
        "SecretProviderClass",
    )


def overlays(evidence: Evidence) -> Iterator[Subject]:
    """Each overlay as a whole: ``<env>:overlay``."""
    for env, overlay in _overlays(evidence):
        if overlay is None:
            yield _missing_overlay(env)
        else:
            yield Subject(f"{env}:overlay", Location(overlay.kustomization), overlay)


def all_overlays(evidence: Evidence) -> Iterator[Subject]:
    """The overlays together, for controls that compare environments."""
    model = _model(evidence)
    yield Subject("overlays", Location(OVERLAYS), model)


# --- helpers ---------------------------------------------------------------


def _absent(subject: Subject) -> Iterator[Violation]:
    """The violation of a subject that stands for something missing."""
    if subject.id.endswith(":overlay"):
        env = subject.id.split(":", 1)[0]
        yield Violation(
            subject.location,
            f"environment {env} has no overlay",
            f"a kustomization under {OVERLAYS}/{env}",
            "no such folder",
        )
        return
    env, what = subject.id.split(":", 1)
    kind = what.split("/", 1)[0]
    yield Violation(
        subject.location,
        f"the {env} overlay renders no {kind}",
        f"at least one {kind} in the {env} overlay",
        f"no {kind}",
    )


def _subject_object(subject: Subject) -> KubeObject | None:
    return subject.data if isinstance(subject.data, KubeObject) else None


def pod_spec_path(obj: KubeObject) -> tuple[str, ...]:
    """The path of obj's pod spec (``spec.template.spec`` for a Deployment)."""
    return POD_SPEC_PATHS.get(obj.kind, ("spec", "template", "spec"))


def containers(obj: KubeObject) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, container) for every init and regular container of obj's pod spec."""
    base = pod_spec_path(obj)
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(obj.get(*base, list_name) or []):
            if isinstance(container, dict):
                yield (*base, list_name, index), container


def _container_label(container: Mapping[str, Any]) -> str:
    return f"container {container.get('name', '?')}"


def _show(value: Any) -> str:
    return "not set" if value is None else json.dumps(value)


def _check(
    obj: KubeObject, path: tuple[Any, ...], ok: bool, message: str, expected: str
) -> Iterator[Violation]:
    """One violation at path's source line when ok is False."""
    if not ok:
        yield Violation(obj.location(*path), message, expected, _show(obj.get(*path)))


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """Whether a label selector (matchLabels/matchExpressions or a map) selects."""
    if not selector:
        return False
    match_labels = selector.get("matchLabels", selector)
    expressions = selector.get("matchExpressions") or []
    if "matchLabels" not in selector and "matchExpressions" in selector:
        match_labels = {}
    if any(labels.get(key) != value for key, value in (match_labels or {}).items()):
        return False
    return all(_expression_holds(expression, labels) for expression in expressions)


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key, operator = str(expression.get("key")), expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def _pod_labels(obj: KubeObject) -> dict[str, Any]:
    template = pod_spec_path(obj)[:-1]
    return dict(obj.get(*template, "metadata", "labels") or {})


# --- ORC-1 -------------------------------------------------------------------


@control(
    id="K8S-WORKLOAD-KIND",
    title="Every workload runs as a Deployment or a StatefulSet",
    clauses=("ORC-1",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 runs each component as a Deployment or StatefulSet, which keep "
        "the desired number of pods and roll out changes; a bare Pod, a "
        "ReplicaSet or a Job does neither."
    ),
    remedy=(
        "Define the workload as a Deployment (or a StatefulSet when it keeps state)."
    ),
    subjects=pod_runners,
)
def workload_kind(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A pod-running object whose kind is not Deployment or StatefulSet fails."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    if obj.kind not in WORKLOAD_KINDS:
        yield Violation(
            obj.location("kind"),
            f"{obj.kind} {obj.name} runs pods outside a Deployment or StatefulSet",
            "kind Deployment or StatefulSet",
            obj.kind,
        )


# --- ORC-2 -------------------------------------------------------------------


def _minimum_replicas(env: str) -> int:
    return PROD_MIN_REPLICAS if env == "prod" else MIN_REPLICAS


@control(
    id="K8S-REPLICAS",
    title="Each workload runs at least two replicas, three in prod",
    clauses=("ORC-2",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 asks for at least two replicas of the runtime API, so one pod "
        "lost never takes the service down; prod keeps three so one can be lost "
        "during a rollout or a node drain."
    ),
    remedy=(
        "Set the overlay's replicas: count (or spec.replicas) to 2 or more, 3 or "
        "more in prod, and the same floor on any HorizontalPodAutoscaler's "
        "minReplicas."
    ),
    subjects=workloads,
)
def replicas(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """spec.replicas and any HPA minReplicas reach the environment's floor."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    floor = _minimum_replicas(obj.env)
    count = obj.get("spec", "replicas")
    yield from _check(
        obj,
        ("spec", "replicas"),
        isinstance(count, int) and count >= floor,
        f"{obj.kind} {obj.name} runs fewer than {floor} replicas in {obj.env}",
        f"spec.replicas >= {floor}",
    )
    yield from _autoscaler_floor(obj, evidence, floor)


def _autoscaler_floor(
    obj: KubeObject, evidence: Evidence, floor: int
) -> Iterator[Violation]:
    overlay = _model(evidence).overlays[obj.env]
    for hpa in overlay.of_kind("HorizontalPodAutoscaler"):
        target = hpa.get("spec", "scaleTargetRef") or {}
        if target.get("kind") != obj.kind or target.get("name") != obj.name:
            continue
        minimum = hpa.get("spec", "minReplicas")
        yield from _check(
            hpa,
            ("spec", "minReplicas"),
            isinstance(minimum, int) and minimum >= floor,
            f"HorizontalPodAutoscaler {hpa.name} may scale {obj.name} below {floor}",
            f"spec.minReplicas >= {floor}",
        )


# --- INV-1.2 ----------------------------------------------------------------


@control(
    id="K8S-IMAGE-DIGEST",
    title="Every container image is referenced by digest only",
    clauses=("INV-1.2", "ACC-1", "TST-P1"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "A tag can be moved to another image; only a digest names one immutable "
        "image, so a change always means a new image and a new deployment."
    ),
    remedy=(
        "Set the image in the overlay's kustomization images: entry with "
        "digest: sha256:<64 hex>, and no newTag."
    ),
    subjects=pod_runners,
)
def image_digest(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each image is name@sha256:<64 hex>, with no tag."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for path, container in containers(obj):
        image = str(container.get("image", ""))
        if not DIGEST_REFERENCE.match(image):
            yield Violation(
                obj.location(*path, "image"),
                f"{_container_label(container)} of {obj.kind} {obj.name} does not "
                "reference its image by digest alone",
                "registry/repository@sha256:<64 hex> (no tag)",
                image or "no image",
            )


# --- INV-1.1 ----------------------------------------------------------------


def _container_images(
    model: KubernetesModel,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(kind, name, container) -> {env: (image, location)} across overlays."""
    images: dict[tuple[str, str, str], dict[str, Any]] = {}
    for overlay in model.overlays.values():
        for obj in overlay.of_kind(*POD_SPEC_PATHS):
            for path, container in containers(obj):
                key = (obj.kind, obj.name, str(container.get("name")))
                images.setdefault(key, {})[overlay.env] = (
                    container.get("image"),
                    obj.location(*path, "image"),
                )
    return images


@control(
    id="K8S-IMAGE-SAME-ACROSS-ENVS",
    title="Every container runs the same image digest in dev, stage and prod",
    clauses=("INV-1.1", "ACC-1", "ENV-2", "THR-1"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "The image tested in dev and stage must be the one prod runs: the "
        "environments differ in configuration and secrets, never in the image."
    ),
    remedy=(
        "Promote the same digest to every overlay's images: entry (dev, stage "
        "and prod), so each container runs one image everywhere."
    ),
    subjects=all_overlays,
)
def same_image(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """The image of each container is identical in every required environment."""
    model: KubernetesModel = subject.data
    images = _container_images(model)
    if not images:
        yield Violation(
            subject.location, "no overlay renders a container", "containers", "none"
        )
    for (kind, name, container), by_env in sorted(images.items()):
        missing = [env for env in ENVIRONMENTS if env not in by_env]
        values = Counter(image for image, _ in by_env.values())
        reference = values.most_common(1)[0][0]
        for env in missing:
            some = next(iter(by_env.values()))[1]
            yield Violation(
                some,
                f"{kind} {name} container {container} is missing in {env}",
                f"the container in {', '.join(ENVIRONMENTS)}",
                f"absent from the {env} overlay",
            )
        for env, (image, location) in sorted(by_env.items()):
            if image != reference:
                yield Violation(
                    location,
                    f"{kind} {name} container {container} runs another image in {env}",
                    f"{reference} (as in the other environments)",
                    str(image),
                )


# --- PSA restricted (INV-2.1, THR-3, CON-3) --------------------------------


@control(
    id="K8S-NAMESPACE-PSA-RESTRICTED",
    title="The namespace enforces, audits and warns on the restricted PSA profile",
    clauses=("CON-3", "INV-2.1", "THR-3"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "Pod Security Admission's restricted profile makes the API server refuse "
        "root, privileged and host-access pods, whatever a later manifest says."
    ),
    remedy=(
        "Label the Namespace pod-security.kubernetes.io/enforce, /audit and "
        "/warn with the value restricted."
    ),
    subjects=namespaces,
)
def namespace_psa(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each PSA mode label is present and says restricted."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for mode in PSA_MODES:
        label = f"pod-security.kubernetes.io/{mode}"
        yield from _check(
            obj,
            ("metadata", "labels", label),
            obj.get("metadata", "labels", label) == "restricted",
            f"Namespace {obj.name} does not {mode} the restricted profile",
            f"label {label}: restricted",
        )


# --- CON-3, CON-5: container security context -----------------------------


@control(
    id="K8S-CONTAINER-SECURITY-CONTEXT",
    title="Every container runs as user 65532, non-root, read-only, with no privilege",
    clauses=("CON-3", "CON-5"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "A non-root user, a read-only root filesystem, no privilege escalation, "
        "no capabilities and the runtime's default seccomp profile leave an "
        "attacker inside the container as little as possible."
    ),
    remedy=(
        "In the container's securityContext set runAsNonRoot: true, runAsUser and "
        "runAsGroup: 65532, readOnlyRootFilesystem: true, "
        "allowPrivilegeEscalation: false, privileged: false, capabilities.drop: "
        "[ALL], and seccompProfile.type: RuntimeDefault (on the pod or container)."
    ),
    subjects=workloads,
)
def container_security(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each container's effective security context is the restricted one."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for path, container in containers(obj):
        yield from _container_security(obj, path, _container_label(container))


@dataclass(frozen=True)
class _Rule:
    """One field of a container's securityContext and the value it must have.

    ``pod_level`` rules also accept the pod's securityContext when the
    container does not set the field (Kubernetes applies the pod's then).
    """

    field: tuple[str, ...]
    pod_level: bool
    ok: Callable[[Any], bool]
    expected: str
    problem: str


_CONTAINER_RULES = (
    _Rule(
        ("runAsNonRoot",),
        True,
        lambda v: v is True,
        "runAsNonRoot: true",
        "may run as root",
    ),
    _Rule(
        ("runAsUser",),
        True,
        lambda v: v == RUNTIME_UID,
        f"runAsUser: {RUNTIME_UID}",
        f"does not run as user {RUNTIME_UID}",
    ),
    _Rule(
        ("runAsGroup",),
        True,
        lambda v: v == RUNTIME_UID,
        f"runAsGroup: {RUNTIME_UID}",
        f"does not run as group {RUNTIME_UID}",
    ),
    _Rule(
        ("readOnlyRootFilesystem",),
        False,
        lambda v: v is True,
        "readOnlyRootFilesystem: true",
        "the root filesystem is writable",
    ),
    _Rule(
        ("allowPrivilegeEscalation",),
        False,
        lambda v: v is False,
        "allowPrivilegeEscalation: false",
        "privilege escalation is allowed",
    ),
    _Rule(
        ("privileged",),
        False,
        lambda v: v in (None, False),
        "privileged: false",
        "the container is privileged",
    ),
    _Rule(
        ("capabilities", "drop"),
        False,
        lambda v: "ALL" in (v or []),
        "capabilities.drop: [ALL]",
        "capabilities are not all dropped",
    ),
    _Rule(
        ("capabilities", "add"),
        False,
        lambda v: not v,
        "no capabilities.add",
        "capabilities are added",
    ),
    _Rule(
        ("seccompProfile", "type"),
        True,
        lambda v: v == "RuntimeDefault",
        "seccompProfile.type: RuntimeDefault",
        "seccomp is not RuntimeDefault",
    ),
)


def _container_security(
    obj: KubeObject, path: tuple[Any, ...], label: str
) -> Iterator[Violation]:
    for rule in _CONTAINER_RULES:
        where = (*path, "securityContext", *rule.field)
        if rule.pod_level and obj.get(*where) is None:
            pod = (*pod_spec_path(obj), "securityContext", *rule.field)
            where = pod if obj.get(*pod) is not None else where
        value = obj.get(*where)
        if not rule.ok(value):
            yield Violation(
                obj.location(*where),
                f"{label}: {rule.problem}",
                rule.expected,
                _show(value),
            )


# --- CON-5: host isolation ---------------------------------------------------


@control(
    id="K8S-POD-HOST-ISOLATION",
    title="No pod shares the node's network, processes or IPC, or mounts its files",
    clauses=("CON-3", "CON-5"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "Host namespaces and hostPath volumes hand a pod the node itself; the "
        "runtime needs none of them."
    ),
    remedy=(
        "Remove hostNetwork, hostPID, hostIPC, hostPort and hostPath volumes "
        "from the pod spec."
    ),
    subjects=pod_runners,
)
def host_isolation(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No host namespace, hostPath volume or hostPort in the pod spec."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    spec = pod_spec_path(obj)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        yield from _check(
            obj,
            (*spec, key),
            obj.get(*spec, key) in (None, False),
            f"{obj.kind} {obj.name} sets {key}",
            f"{key}: false",
        )
    for index, volume in enumerate(obj.get(*spec, "volumes") or []):
        if isinstance(volume, dict) and "hostPath" in volume:
            yield Violation(
                obj.location(*spec, "volumes", index, "hostPath"),
                f"volume {volume.get('name')} mounts a path of the node",
                "no hostPath volume",
                json.dumps(volume["hostPath"]),
            )
    for path, container in containers(obj):
        for index, port in enumerate(container.get("ports") or []):
            if isinstance(port, dict) and port.get("hostPort"):
                yield Violation(
                    obj.location(*path, "ports", index, "hostPort"),
                    f"{_container_label(container)} binds a port of the node",
                    "no hostPort",
                    str(port["hostPort"]),
                )


# --- THR-6: service account token -------------------------------------------


@control(
    id="K8S-NO-SERVICE-ACCOUNT-TOKEN",
    title="Workloads do not mount a Kubernetes API token",
    clauses=("THR-6",),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "The runtime never calls the Kubernetes API; a mounted token is a "
        "credential an attacker could use without the runtime needing it."
    ),
    remedy="Set automountServiceAccountToken: false on the pod spec.",
    subjects=workloads,
)
def service_account_token(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """automountServiceAccountToken is false on the pod spec."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    path = (*pod_spec_path(obj), "automountServiceAccountToken")
    yield from _check(
        obj,
        path,
        obj.get(*path) is False,
        f"{obj.kind} {obj.name} mounts a service account token",
        "automountServiceAccountToken: false",
    )


# --- FAIL-3, THR-5: resources -----------------------------------------------


@control(
    id="K8S-RESOURCES",
    title="Every container declares cpu and memory requests and limits",
    clauses=("FAIL-3", "THR-5"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "Requests let the scheduler place pods where they fit; limits keep one "
        "pod from starving the node, so saturation stays inside the pod."
    ),
    remedy="Set resources.requests and resources.limits for cpu and memory.",
    subjects=workloads,
)
def resources(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """requests and limits for cpu and memory on every container."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for path, container in containers(obj):
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                where = (*path, "resources", bound, resource)
                yield from _check(
                    obj,
                    where,
                    obj.get(*where) not in (None, ""),
                    f"{_container_label(container)} has no {resource} {bound[:-1]}",
                    f"resources.{bound}.{resource} set",
                )


# --- THR-5: spread and disruption budget ------------------------------------


@control(
    id="K8S-SPREAD-AND-PDB",
    title="Pods are spread over nodes and zones and protected by a disruption budget",
    clauses=("THR-5", "FAIL-1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "Replicas on one node fall together; a PodDisruptionBudget keeps a "
        "drain or an upgrade from evicting every pod at once."
    ),
    remedy=(
        "Add topologySpreadConstraints (or podAntiAffinity) on the pod spec, "
        "and a PodDisruptionBudget whose selector matches the pod labels."
    ),
    subjects=workloads,
)
def spread_and_pdb(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Topology spread or anti-affinity, and a PDB selecting the pods."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    spec = pod_spec_path(obj)
    spread = obj.get(*spec, "topologySpreadConstraints") or obj.get(
        *spec, "affinity", "podAntiAffinity"
    )
    yield from _check(
        obj,
        (*spec, "topologySpreadConstraints"),
        bool(spread),
        f"{obj.kind} {obj.name} does not spread its pods",
        "topologySpreadConstraints or podAntiAffinity",
    )
    if spread:
        yield from _zone_spread_enforced(obj, spec)

    overlay = _model(evidence).overlays[obj.env]
    labels = _pod_labels(obj)
    budgets = [
        pdb
        for pdb in overlay.of_kind("PodDisruptionBudget")
        if pdb.namespace == obj.namespace
        and _selects(pdb.get("spec", "selector"), labels)
    ]
    if not budgets:
        yield Violation(
            obj.location(*pod_spec_path(obj)[:-1], "metadata", "labels"),
            f"no PodDisruptionBudget selects the pods of {obj.kind} {obj.name}",
            "a PodDisruptionBudget whose selector matches the pod labels",
            "none",
        )
    for pdb in budgets:
        yield from _budget_allows_serving(pdb, obj)


ZONE_KEY = "topology.kubernetes.io/zone"


def _zone_spread_enforced(
    obj: KubeObject, spec: tuple[str, ...]
) -> Iterator[Violation]:
    """A zone outage must not take every pod: the zone spread is a hard rule."""
    constraints = obj.get(*spec, "topologySpreadConstraints") or []
    zone = [
        (index, constraint)
        for index, constraint in enumerate(constraints)
        if isinstance(constraint, Mapping) and constraint.get("topologyKey") == ZONE_KEY
    ]
    if any(
        c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule" for _, c in zone
    ):
        return
    required = (
        obj.get(
            *spec,
            "affinity",
            "podAntiAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
        )
        or []
    )
    if any(
        isinstance(t, Mapping) and t.get("topologyKey") == ZONE_KEY for t in required
    ):
        return
    if zone:
        index, constraint = zone[0]
        where = obj.location(
            *spec, "topologySpreadConstraints", index, "whenUnsatisfiable"
        )
        actual = f"whenUnsatisfiable: {constraint.get('whenUnsatisfiable')}"
    else:
        where = obj.location(*spec, "topologySpreadConstraints")
        actual = "no constraint on " + ZONE_KEY
    yield Violation(
        where,
        f"{obj.kind} {obj.name} may place every pod in one zone: the zone spread "
        "is not enforced",
        f"a topologySpreadConstraint on {ZONE_KEY} with whenUnsatisfiable: "
        "DoNotSchedule (or a required zone anti-affinity)",
        actual,
    )


def _budget_allows_serving(pdb: KubeObject, obj: KubeObject) -> Iterator[Violation]:
    minimum = pdb.get("spec", "minAvailable")
    maximum = pdb.get("spec", "maxUnavailable")
    useful = (
        (isinstance(minimum, int) and minimum >= 1)
        or (isinstance(minimum, str) and minimum not in ("0%", "0"))
        or (maximum is not None and maximum not in (0, "0%") and minimum is None)
    )
    yield from _check(
        pdb,
        ("spec", "minAvailable"),
        useful,
        f"PodDisruptionBudget {pdb.name} lets every pod of {obj.name} be evicted",
        "minAvailable >= 1 (or a maxUnavailable below the replicas)",
    )


# --- FLOW-5, FAIL-1, INV-4.2: rollout ---------------------------------------


@control(
    id="K8S-ROLLOUT",
    title="Rollouts never lower capacity, fail explicitly and can be rolled back",
    clauses=("FLOW-5", "FAIL-1", "INV-4.2", "THR-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "With maxUnavailable 0 an image that never becomes ready removes no "
        "serving pod; progressDeadlineSeconds makes a stuck rollout fail "
        "visibly, and the kept revisions are what a rollback returns to."
    ),
    remedy=(
        "Set strategy.type RollingUpdate with rollingUpdate.maxUnavailable: 0, "
        "progressDeadlineSeconds, and a revisionHistoryLimit of 1 or more."
    ),
    subjects=workloads,
)
def rollout(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """RollingUpdate with maxUnavailable 0, a progress deadline, kept revisions."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    if obj.kind == "StatefulSet":
        yield from _check(
            obj,
            ("spec", "updateStrategy", "type"),
            obj.get("spec", "updateStrategy", "type") in (None, "RollingUpdate"),
            f"StatefulSet {obj.name} does not roll updates",
            "updateStrategy.type: RollingUpdate",
        )
        return
    yield from _check(
        obj,
        ("spec", "strategy", "type"),
        obj.get("spec", "strategy", "type") == "RollingUpdate",
        f"Deployment {obj.name} does not roll updates",
        "strategy.type: RollingUpdate",
    )
    unavailable = obj.get("spec", "strategy", "rollingUpdate", "maxUnavailable")
    yield from _check(
        obj,
        ("spec", "strategy", "rollingUpdate", "maxUnavailable"),
        unavailable in (0, "0%"),
        f"Deployment {obj.name} may take serving pods down during a rollout",
        "rollingUpdate.maxUnavailable: 0",
    )
    deadline = obj.get("spec", "progressDeadlineSeconds")
    yield from _check(
        obj,
        ("spec", "progressDeadlineSeconds"),
        isinstance(deadline, int) and deadline > 0,
        f"Deployment {obj.name} sets no progress deadline",
        "progressDeadlineSeconds set",
    )
    history = obj.get("spec", "revisionHistoryLimit")
    yield from _check(
        obj,
        ("spec", "revisionHistoryLimit"),
        isinstance(history, int) and history >= 1,
        f"Deployment {obj.name} keeps no revision to roll back to",
        "revisionHistoryLimit >= 1",
    )


# --- PRB-1, PRB-2, FLOW-6, INV-5.1, INV-5.2: probes ------------------------


@control(
    id="K8S-PROBES",
    title="Containers declare liveness /healthz, readiness /readyz and a startup probe",
    clauses=("PRB-1", "PRB-2", "FLOW-6", "INV-5.1", "INV-5.2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "Liveness says only that the process is alive, readiness that its "
        "dependencies answer: two different questions on two paths. A startup "
        "probe keeps slow starts from being killed by liveness."
    ),
    remedy=(
        "Declare livenessProbe httpGet /healthz, readinessProbe httpGet /readyz "
        "and a startupProbe, all on the port named http."
    ),
    subjects=workloads,
)
def probes(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """The runtime's three probes on their paths, liveness and readiness apart."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for path, container in containers(obj):
        if path[-2] == "initContainers":
            continue
        label = _container_label(container)
        yield from _probe(obj, path, label, "livenessProbe", "/healthz")
        yield from _probe(obj, path, label, "readinessProbe", "/readyz")
        yield from _check(
            obj,
            (*path, "startupProbe"),
            isinstance(container.get("startupProbe"), dict),
            f"{label} has no startup probe",
            "a startupProbe",
        )
        live = obj.get(*path, "livenessProbe", "httpGet", "path")
        ready = obj.get(*path, "readinessProbe", "httpGet", "path")
        if live is not None and live == ready:
            yield Violation(
                obj.location(*path, "readinessProbe", "httpGet", "path"),
                f"{label}: liveness and readiness ask the same path",
                "distinct paths (/healthz and /readyz)",
                str(ready),
            )


def _probe(
    obj: KubeObject, path: tuple[Any, ...], label: str, name: str, wanted: str
) -> Iterator[Violation]:
    probe = obj.get(*path, name)
    if not isinstance(probe, dict):
        yield Violation(
            obj.location(*path, name),
            f"{label} has no {name}",
            f"{name} httpGet {wanted}",
            "not set",
        )
        return
    actual = obj.get(*path, name, "httpGet", "path")
    yield from _check(
        obj,
        (*path, name, "httpGet", "path"),
        actual == wanted,
        f"{label}: {name} does not GET {wanted}",
        f"{name}.httpGet.path: {wanted}",
    )
    port = obj.get(*path, name, "httpGet", "port")
    yield from _check(
        obj,
        (*path, name, "httpGet", "port"),
        port == "http",
        f"{label}: {name} is not on the port named http",
        "port: http",
    )


# --- PRB-3, FLOW-7: traffic only to ready pods -------------------------------


@control(
    id="K8S-SERVICE-READY-ONLY",
    title="Services send traffic only to pods whose readiness probe passes",
    clauses=("PRB-3", "FLOW-7"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "A Service that publishes not-ready addresses, or selects pods without "
        "a readiness probe, sends traffic to pods that never said they are ready."
    ),
    remedy=(
        "Leave publishNotReadyAddresses false and give every workload behind "
        "the Service a readinessProbe."
    ),
    subjects=services,
)
def service_ready_only(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No not-ready publishing; every selected workload has readiness probes."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    yield from _check(
        obj,
        ("spec", "publishNotReadyAddresses"),
        obj.get("spec", "publishNotReadyAddresses") in (None, False),
        f"Service {obj.name} publishes not-ready addresses",
        "publishNotReadyAddresses: false",
    )
    selector = obj.get("spec", "selector")
    overlay = _model(evidence).overlays[obj.env]
    backends = [
        w
        for w in overlay.of_kind(*POD_SPEC_PATHS)
        if w.namespace == obj.namespace
        and _selects({"matchLabels": selector} if selector else None, _pod_labels(w))
    ]
    if not backends:
        yield Violation(
            obj.location("spec", "selector"),
            f"Service {obj.name} selects no workload of the overlay",
            "a selector matching a workload's pod labels",
            _show(selector),
        )
    for workload in backends:
        for path, container in containers(workload):
            if path[-2] == "containers" and not isinstance(
                container.get("readinessProbe"), dict
            ):
                yield Violation(
                    workload.location(*path),
                    f"{workload.kind} {workload.name} behind Service {obj.name}: "
                    f"{_container_label(container)} has no readiness probe",
                    "a readinessProbe",
                    "not set",
                )


# --- SEC-1, SEC-2: plain-text secrets ---------------------------------------


def _looks_secret(name: str, value: Any) -> str | None:
    """Why a named literal looks like a credential, or None. Never the value."""
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return "its value has the shape of a credential"
    if not SECRET_NAME.search(name) or value in (None, ""):
        return None
    if isinstance(value, str) and value.startswith("/"):
        return None  # a file path (such as a mounted secret's), not the secret
    return "a credential-like name with a literal value"


@control(
    id="K8S-ENV-NO-SECRETS",
    title="No secret reaches a container through its environment",
    clauses=("SEC-2", "SEC-1", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "Environment variables leak into process listings, crash dumps and "
        "child processes; RFC-16 forbids secrets in plain-text environment "
        "variables, literal or taken from a Kubernetes Secret."
    ),
    remedy=(
        "Remove the variable; read the secret from the Secrets Store CSI volume "
        "under /var/run/secrets/tenon instead."
    ),
    subjects=pod_runners,
)
def env_no_secrets(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No credential-like literal, secretKeyRef or envFrom secretRef."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    for path, container in containers(obj):
        label = _container_label(container)
        for index, variable in enumerate(container.get("env") or []):
            yield from _env_variable(obj, (*path, "env", index), label, variable)
        for index, source in enumerate(container.get("envFrom") or []):
            if isinstance(source, dict) and "secretRef" in source:
                yield Violation(
                    obj.location(*path, "envFrom", index, "secretRef"),
                    f"{label} takes its environment from a Secret",
                    "no envFrom secretRef",
                    f"secretRef {source['secretRef'].get('name')}",
                )


def _env_variable(
    obj: KubeObject, path: tuple[Any, ...], label: str, variable: Any
) -> Iterator[Violation]:
    if not isinstance(variable, dict):
        return
    name = str(variable.get("name", ""))
    if (
        isinstance(variable.get("valueFrom"), dict)
        and "secretKeyRef" in variable["valueFrom"]
    ):
        yield Violation(
            obj.location(*path, "valueFrom", "secretKeyRef"),
            f"{label}: variable {name} is read from a Secret",
            "no secretKeyRef",
            f"secretKeyRef {variable['valueFrom']['secretKeyRef'].get('name')}",
        )
    reason = _looks_secret(name, variable.get("value"))
    if reason:
        yield Violation(
            obj.location(*path, "value"),
            f"{label}: variable {name} holds a literal secret ({reason})",
            "no secret in an environment variable",
            "a literal value (not shown)",
        )


def _text_secrets(text: str) -> Iterator[tuple[int, str]]:
    """(line within text, reason) for credential-like content of a text value."""
    key = re.compile(r"""["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*["']?([^"',\s}]+)""")
    for number, line in enumerate(text.splitlines(), 1):
        if SECRET_VALUE.search(line):
            yield number, "a value with the shape of a credential"
            continue
        for match in key.finditer(line):
            if match.group(2) != "null" and _looks_secret(*match.groups()):
                yield number, f"key {match.group(1)} with a literal value"


@control(
    id="K8S-NO-SECRET-OBJECTS",
    title="No Secret object and no credential in a ConfigMap",
    clauses=("SEC-1", "SEC-3", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "Secrets come from AWS Secrets Manager at runtime; a Kubernetes Secret "
        "in the repository is a secret in code, and a ConfigMap is plain text "
        "that anyone reading the namespace sees."
    ),
    remedy=(
        "Remove the Secret (or secretGenerator) and move the value to Secrets "
        "Manager under tenon/<env>/runtime-api/; keep ConfigMaps free of "
        "credentials; sync nothing into Secrets (no secretObjects)."
    ),
    subjects=overlays,
)
def no_secret_objects(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No Secret, no SecretProviderClass syncing to one, no credential in ConfigMaps."""
    overlay = subject.data
    if not isinstance(overlay, Overlay):
        yield from _absent(subject)
        return
    for obj in overlay.of_kind("Secret"):
        yield Violation(
            obj.location(),
            f"Secret {obj.name} is defined in the overlay",
            "no Secret object",
            f"Secret with keys {_secret_keys(obj)}",
        )
    for obj in overlay.of_kind("SecretProviderClass"):
        if obj.get("spec", "secretObjects"):
            yield Violation(
                obj.location("spec", "secretObjects"),
                f"SecretProviderClass {obj.name} syncs secrets into Kubernetes Secrets",
                "no secretObjects",
                "secretObjects set",
            )
    for obj in overlay.of_kind("ConfigMap"):
        yield from _config_map_secrets(obj)


def _secret_keys(obj: KubeObject) -> list[str]:
    """The keys of a Secret (its values are never shown)."""
    return sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})


def _config_map_secrets(obj: KubeObject) -> Iterator[Violation]:
    for key, value in sorted((obj.get("data") or {}).items()):
        base = obj.location("data", key)
        reason = _looks_secret(str(key), value) if "\n" not in str(value) else None
        if reason:
            yield Violation(
                base,
                f"ConfigMap {obj.name} key {key} holds a credential ({reason})",
                "no credential in a ConfigMap",
                "a literal value (not shown)",
            )
            continue
        for number, why in _text_secrets(str(value)):
            line = base.line + number if base.line else None
            yield Violation(
                Location(base.file, line),
                f"ConfigMap {obj.name} key {key} holds a credential ({why})",
                "no credential in a ConfigMap",
                "a literal value (not shown)",
            )


# --- SEC-3, INV-3.2: secrets only through the CSI driver ------------------


@control(
    id="K8S-SECRETS-CSI",
    title="Secrets reach the runtime only through a read-only Secrets Store CSI volume",
    clauses=("SEC-3", "INV-3.2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "Secrets are read from AWS Secrets Manager at pod start by the Secrets "
        "Store CSI driver and mounted read-only: nothing is baked into the "
        "image or stored in a Kubernetes Secret."
    ),
    remedy=(
        "Mount a csi volume with driver secrets-store.csi.k8s.io, readOnly: true, "
        "volumeAttributes.secretProviderClass naming a SecretProviderClass of the "
        "same overlay; mount it readOnly; remove secret and projected-secret volumes."
    ),
    subjects=workloads,
)
def secrets_csi(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A read-only CSI secrets volume whose SecretProviderClass exists."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    spec = pod_spec_path(obj)
    overlay = _model(evidence).overlays[obj.env]
    csi = []
    for index, volume in enumerate(obj.get(*spec, "volumes") or []):
        where = (*spec, "volumes", index)
        yield from _secret_volume(obj, where, volume)
        if (
            isinstance(volume, dict)
            and (volume.get("csi") or {}).get("driver") == CSI_DRIVER
        ):
            csi.append(str(volume.get("name")))
            yield from _csi_volume(obj, where, volume, overlay)
    if not csi:
        yield Violation(
            obj.location(*spec, "volumes"),
            f"{obj.kind} {obj.name} mounts no Secrets Store CSI volume",
            f"a csi volume with driver {CSI_DRIVER}",
            "none",
        )
    for path, container in containers(obj):
        for index, mount in enumerate(container.get("volumeMounts") or []):
            if (
                isinstance(mount, dict)
                and mount.get("name") in csi
                and mount.get("readOnly") is not True
            ):
                yield Violation(
                    obj.location(*path, "volumeMounts", index),
                    f"{_container_label(container)} mounts the secrets volume writable",
                    "readOnly: true",
                    _show(mount.get("readOnly")),
                )


def _secret_volume(
    obj: KubeObject, where: tuple[Any, ...], volume: Any
) -> Iterator[Violation]:
    if not isinstance(volume, dict):
        return
    if "secret" in volume:
        yield Violation(
            obj.location(*where, "secret"),
            f"volume {volume.get('name')} mounts a Kubernetes Secret",
            "secrets only from the Secrets Store CSI driver",
            f"secret {volume['secret'].get('secretName')}",
        )
    for source in (volume.get("projected") or {}).get("sources") or []:
        if isinstance(source, dict) and "secret" in source:
            yield Violation(
                obj.location(*where, "projected"),
                f"volume {volume.get('name')} projects a Kubernetes Secret",
                "secrets only from the Secrets Store CSI driver",
                f"secret {source['secret'].get('name')}",
            )


def _csi_volume(
    obj: KubeObject, where: tuple[Any, ...], volume: dict[str, Any], overlay: Overlay
) -> Iterator[Violation]:
    csi = volume["csi"]
    yield from _check(
        obj,
        (*where, "csi", "readOnly"),
        csi.get("readOnly") is True,
        f"CSI volume {volume.get('name')} is not read-only",
        "csi.readOnly: true",
    )
    name = (csi.get("volumeAttributes") or {}).get("secretProviderClass")
    found = [
        spc
        for spc in overlay.of_kind("SecretProviderClass")
        if spc.name == name and spc.namespace == obj.namespace
    ]
    if not found:
        yield Violation(
            obj.location(*where, "csi", "volumeAttributes", "secretProviderClass"),
            f"CSI volume {volume.get('name')} names a SecretProviderClass the "
            f"{obj.env} overlay does not define",
            f"SecretProviderClass {name} in namespace {obj.namespace}",
            "not in the overlay",
        )


# --- ENV-2, THR-6: secret paths per environment -----------------------------


def _objects_parameter(obj: KubeObject) -> tuple[list[Any] | None, Location]:
    """The parsed ``spec.parameters.objects`` list and its location."""
    where = obj.location("spec", "parameters", "objects")
    text = obj.get("spec", "parameters", "objects")
    if not isinstance(text, str):
        return None, where
    try:
        documents = load_documents(text.encode(), where.file)
    except LoadError:
        return None, where
    parsed = plain(documents[0]) if len(documents) == 1 else None
    return (parsed if isinstance(parsed, list) else None), where


@control(
    id="K8S-SECRET-PATHS-PER-ENV",
    title="Each environment reads only its own secrets (tenon/<env>/...)",
    clauses=("ENV-2", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "Each environment has its own secrets; a stage pod reading "
        "tenon/prod/... would carry prod credentials outside prod."
    ),
    remedy=(
        "Point every objectName of the overlay's SecretProviderClass to "
        "tenon/<env>/... of that overlay's environment."
    ),
    subjects=secret_provider_classes,
)
def secret_paths(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Every objectName starts with tenon/<env>/ of the overlay's environment."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    items, where = _objects_parameter(obj)
    if not items:
        yield Violation(
            where,
            f"SecretProviderClass {obj.name}: spec.parameters.objects is not a "
            "YAML list",
            "a YAML list of objects",
            "unparsable or empty",
        )
        return
    prefix = f"tenon/{obj.env}/"
    text = str(obj.get("spec", "parameters", "objects"))
    for item in items:
        name = str(item.get("objectName", "")) if isinstance(item, dict) else ""
        path = name.split(":secret:", 1)[-1] if name.startswith("arn:") else name
        if not path.startswith(prefix):
            yield Violation(
                _line_in_block(where, text, name),
                f"SecretProviderClass {obj.name} reads a secret outside {prefix}",
                f"objectName under {prefix}",
                name or "no objectName",
            )


def _line_in_block(where: Location, text: str, needle: str) -> Location:
    """The line of needle inside a literal block whose key is at where."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle and needle in line and where.line:
            return Location(where.file, where.line + number)
    return where


# --- THR-5, CON-5: default-deny network policy ------------------------------


def _default_deny(policy: KubeObject) -> bool:
    spec = policy.get("spec") or {}
    types = set(spec.get("policyTypes") or [])
    return (
        spec.get("podSelector") in ({}, None)
        and {"Ingress", "Egress"} <= types
        and not spec.get("ingress")
        and not spec.get("egress")
    )


@control(
    id="K8S-NETWORK-DEFAULT-DENY",
    title="The namespace denies all ingress and egress unless a policy allows it",
    clauses=("THR-5", "CON-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "Without a default-deny NetworkPolicy every pod may reach, and be "
        "reached by, anything in the cluster; allowed flows are then added one "
        "by one."
    ),
    remedy=(
        "Add a NetworkPolicy in the namespace with podSelector: {}, policyTypes "
        "[Ingress, Egress] and no rules."
    ),
    subjects=namespaces,
)
def network_default_deny(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A default-deny NetworkPolicy for both directions exists in the namespace."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    overlay = _model(evidence).overlays[obj.env]
    policies = [p for p in overlay.of_kind("NetworkPolicy") if p.namespace == obj.name]
    if not any(_default_deny(policy) for policy in policies):
        yield Violation(
            obj.location(),
            f"namespace {obj.name} has no default-deny NetworkPolicy for ingress "
            "and egress",
            "podSelector {}, policyTypes [Ingress, Egress], no rules",
            f"{len(policies)} NetworkPolicies, none denying both by default",
        )


# Address ranges a NetworkPolicy may name: the private ranges of RFC 1918 and
# RFC 4193 (the VPC) and link-local (the EKS Pod Identity agent). Anything
# else is the internet.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)
PEER_KEYS = {"ingress": "from", "egress": "to"}


@control(
    id="K8S-NETWORK-PRIVATE-PEERS",
    title="Network policies open flows only to named in-cluster peers or private "
    "address ranges",
    clauses=("THR-5", "CON-5", "THR-6"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "A default-deny policy is worth nothing if an allow rule opens the "
        "namespace to every peer: a rule without 'from'/'to', or an ipBlock "
        "such as 0.0.0.0/0, lets a compromised pod send data anywhere "
        "(exposed secrets) or be reached from anywhere."
    ),
    remedy=(
        "Name the peers: a namespaceSelector/podSelector inside the cluster, or "
        "an ipBlock inside the VPC (private ranges only)."
    ),
    subjects=namespaces,
)
def network_private_peers(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Every allow rule names its peers, and every ipBlock is a private range."""
    obj = _subject_object(subject)
    if obj is None:
        yield from _absent(subject)
        return
    overlay = _model(evidence).overlays[obj.env]
    for policy in overlay.of_kind("NetworkPolicy"):
        if policy.namespace == obj.name:
            yield from _open_peers(policy)


def _open_peers(policy: KubeObject) -> Iterator[Violation]:
    for direction, key in PEER_KEYS.items():
        for index, rule in enumerate(policy.get("spec", direction) or []):
            path = ("spec", direction, index)
            peers = rule.get(key) if isinstance(rule, Mapping) else None
            if not peers:
                yield Violation(
                    policy.location(*path),
                    f"NetworkPolicy/{policy.name}: {direction} rule {index} has no "
                    f"'{key}', so it allows every peer",
                    f"'{key}' naming in-cluster selectors or private ipBlocks",
                    "every address",
                )
                continue
            for position, peer in enumerate(peers):
                cidr = (
                    (peer.get("ipBlock") or {}).get("cidr")
                    if isinstance(peer, Mapping)
                    else None
                )
                problem = _public_cidr(cidr) if cidr is not None else None
                if problem:
                    yield Violation(
                        policy.location(*path, key, position, "ipBlock", "cidr"),
                        f"NetworkPolicy/{policy.name}: {direction} rule {index} "
                        f"opens {cidr}, {problem}",
                        "a range inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 "
                        "or link-local",
                        str(cidr),
                    )


def _public_cidr(cidr: object) -> str | None:
    """Why cidr is not an acceptable peer range, or None when it is private."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return "which is not a valid CIDR"
    private = any(
        network.version == allowed.version and network.subnet_of(allowed)  # type: ignore[arg-type]
        for allowed in PRIVATE_NETWORKS
    )
    return None if private else "which reaches beyond the private address ranges"


# --- ACC-2, INV-2.1, THR-3: RBAC --------------------------------------------


def _rule_grants(rule: Mapping[str, Any]) -> list[str]:
    """The forbidden subresources a rule grants, directly or by wildcard."""
    groups = set(rule.get("apiGroups") or [])
    if not groups & {"", "*"} or not rule.get("verbs"):
        return []
    granted = []
    for resource in rule.get("resources") or []:
        for forbidden in RBAC_FORBIDDEN:
            parent = forbidden.split("/", 1)[0]
            if resource in ("*", f"{parent}/*", forbidden) or fnmatch.fnmatchcase(
                forbidden, str(resource)
            ):
                granted.append(forbidden)
    return sorted(set(granted))


@control(
    id="K8S-RBAC-NO-POD-ACCESS",
    title="No Role or ClusterRole grants exec, attach, port-forward or node proxy",
    clauses=("ACC-2", "INV-2.1", "THR-3"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "pods/exec, pods/attach, pods/portforward and nodes/proxy are the ways "
        "a person enters a running pod; RFC-16 allows no human access to prod."
    ),
    remedy=(
        "Remove those resources (and any '*' resource covering them) from the "
        "role's rules; grant read-only verbs on named resources instead."
    ),
    subjects=overlays,
)
def rbac_no_pod_access(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No rule of any Role or ClusterRole covers a forbidden subresource."""
    overlay = subject.data
    if not isinstance(overlay, Overlay):
        yield from _absent(subject)
        return
    for role in overlay.of_kind("Role", "ClusterRole"):
        for index, rule in enumerate(role.get("rules") or []):
            granted = _rule_grants(rule) if isinstance(rule, dict) else []
            if granted:
                yield Violation(
                    role.location("rules", index, "resources"),
                    f"{role.kind} {role.name} grants {', '.join(granted)}",
                    "no access to " + ", ".join(RBAC_FORBIDDEN),
                    f"resources {rule.get('resources')} verbs {rule.get('verbs')}",
                )


# --- INV-2.1, MIT-3, ACC-2: admission policy --------------------------------


def _covers(values: Iterable[Any], wanted: str) -> bool:
    return any(value in ("*", wanted) for value in values)


def _denies_connect(policy: KubeObject) -> list[str]:
    """The subresources the policy's resource rules fail to match on CONNECT."""
    missing = []
    rules = policy.get("spec", "matchConstraints", "resourceRules") or []
    for subresource in DENIED_SUBRESOURCES:
        matched = any(
            _covers(rule.get("operations") or [], "CONNECT")
            and _covers(rule.get("apiGroups") or [], "")
            and any(
                r in ("*", "pods/*", subresource) for r in rule.get("resources") or []
            )
            for rule in rules
            if isinstance(rule, dict)
        )
        if not matched:
            missing.append(subresource)
    return missing


def _binding_problems(
    binding: KubeObject, namespace_labels: Mapping[str, Any]
) -> list[str]:
    problems = []
    if "Deny" not in (binding.get("spec", "validationActions") or []):
        problems.append("validationActions has no Deny")
    selector = binding.get("spec", "matchResources", "namespaceSelector")
    if selector and not _selects(selector, namespace_labels):
        problems.append(f"its namespaceSelector does not select namespace {NAMESPACE}")
    return problems


@control(
    id="K8S-ADMISSION-DENY-POD-ACCESS",
    title="An admission policy denies exec, attach and port-forward in namespace tenon",
    clauses=("INV-2.1", "MIT-3", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "RBAC grants no pod access today; a ValidatingAdmissionPolicy makes the "
        "API server refuse it even for a role added later or for cluster-admin."
    ),
    remedy=(
        "Keep a ValidatingAdmissionPolicy matching CONNECT on pods/exec, "
        "pods/attach and pods/portforward with failurePolicy Fail, and a binding "
        "with validationActions [Deny] selecting namespace tenon."
    ),
    subjects=overlays,
)
def admission_deny(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A VAP matching CONNECT on the subresources, bound with Deny to tenon."""
    overlay = subject.data
    if not isinstance(overlay, Overlay):
        yield from _absent(subject)
        return
    policies = overlay.of_kind("ValidatingAdmissionPolicy")
    complete = [p for p in policies if not _denies_connect(p)]
    if not complete:
        yield _no_connect_policy(overlay, policies)
    labels = _namespace_labels(overlay)
    for policy in complete:
        yield from _policy_problems(policy, labels)
        yield from _bindings_of(policy, overlay, labels)


def _namespace_labels(overlay: Overlay) -> dict[str, Any]:
    """The labels namespace tenon has, including the one Kubernetes adds itself."""
    namespace = overlay.find("Namespace", NAMESPACE)
    labels = dict(namespace.get("metadata", "labels") or {}) if namespace else {}
    return {"kubernetes.io/metadata.name": NAMESPACE, **labels}


def _no_connect_policy(overlay: Overlay, policies: list[KubeObject]) -> Violation:
    if policies:
        where = policies[0].location("spec", "matchConstraints")
        missing = _denies_connect(policies[0])
    else:
        where, missing = Location(overlay.kustomization), list(DENIED_SUBRESOURCES)
    return Violation(
        where,
        "no ValidatingAdmissionPolicy matches CONNECT on " + ", ".join(missing),
        "resourceRules with operations [CONNECT] on " + ", ".join(DENIED_SUBRESOURCES),
        f"{len(policies)} policies",
    )


def _policy_problems(
    policy: KubeObject, labels: Mapping[str, Any]
) -> Iterator[Violation]:
    """The policy applies to tenon, fails closed and validates something."""
    scope = policy.get("spec", "matchConstraints", "namespaceSelector")
    yield from _check(
        policy,
        ("spec", "matchConstraints", "namespaceSelector"),
        not scope or _selects(scope, labels),
        f"ValidatingAdmissionPolicy {policy.name} does not apply to namespace "
        f"{NAMESPACE}",
        f"a namespaceSelector that selects {NAMESPACE}, or none",
    )
    yield from _check(
        policy,
        ("spec", "failurePolicy"),
        policy.get("spec", "failurePolicy") in (None, "Fail"),
        f"ValidatingAdmissionPolicy {policy.name} fails open",
        "failurePolicy: Fail",
    )
    yield from _check(
        policy,
        ("spec", "validations"),
        bool(policy.get("spec", "validations")),
        f"ValidatingAdmissionPolicy {policy.name} has no validation",
        "at least one validation",
    )


def _bindings_of(
    policy: KubeObject, overlay: Overlay, labels: Mapping[str, Any]
) -> Iterator[Violation]:
    """The policy is bound, with Deny, to a scope that includes tenon."""
    bindings = [
        b
        for b in overlay.of_kind("ValidatingAdmissionPolicyBinding")
        if b.get("spec", "policyName") == policy.name
    ]
    if not bindings:
        yield Violation(
            policy.location(),
            f"ValidatingAdmissionPolicy {policy.name} is not bound",
            "a ValidatingAdmissionPolicyBinding with validationActions [Deny]",
            "no binding",
        )
    for binding in bindings:
        for problem in _binding_problems(binding, labels):
            yield Violation(
                binding.location("spec"),
                f"ValidatingAdmissionPolicyBinding {binding.name}: {problem}",
                f"validationActions [Deny], namespace {NAMESPACE} selected",
                _show(binding.get("spec")),
            )


# --- FLOW-3, INV-1.2: image admission identity -------------------------------


def _signing_policy(evidence: Evidence) -> dict[str, Any]:
    def load(evidence: Evidence) -> dict[str, Any]:
        try:
            data = evidence.read_bytes(SIGNING_POLICY)
        except OSError as error:
            raise LoadError(
                SIGNING_POLICY, None, f"cannot read: {error.strerror}"
            ) from error
        documents = load_documents(data, SIGNING_POLICY)
        policy = plain(documents[0]) if documents else None
        if (
            not isinstance(policy, dict)
            or not policy.get("issuer")
            or not policy.get("identity")
        ):
            raise LoadError(SIGNING_POLICY, None, "needs an issuer and an identity")
        return policy

    return evidence.load("signing-policy", load)


def _runtime_repositories(overlay: Overlay) -> set[str]:
    repositories = set()
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        for _, container in containers(obj):
            repositories.add(str(container.get("image", "")).split("@", 1)[0])
    return repositories


def _glob_matches(glob: str, image: str) -> bool:
    pattern = re.escape(glob).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(pattern, image) is not None


@control(
    id="K8S-IMAGE-POLICY-IDENTITY",
    title="Image admission admits the runtime image only from the pinned signer",
    clauses=("FLOW-3", "INV-1.2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "The cluster runs the runtime image only if it was signed keyless by the "
        "main branch's pipeline: exactly the identity the suite verifies "
        "(compliance/signing-policy.yaml), with no regular expression."
    ),
    remedy=(
        "Give the ClusterImagePolicy covering the runtime image mode enforce and "
        "keyless authorities whose identities are exactly the issuer and identity "
        "of compliance/signing-policy.yaml (issuer/subject, no *RegExp)."
    ),
    subjects=overlays,
)
def image_policy_identity(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Every ClusterImagePolicy covering the runtime pins the signing identity."""
    overlay = subject.data
    if not isinstance(overlay, Overlay):
        yield from _absent(subject)
        return
    signer = _signing_policy(evidence)
    repositories = _runtime_repositories(overlay)
    yield from _namespaces_opted_in(overlay)
    covering = [
        p
        for p in overlay.of_kind("ClusterImagePolicy")
        if any(
            _glob_matches(str(i.get("glob", "")), repo)
            for i in p.get("spec", "images") or []
            if isinstance(i, dict)
            for repo in repositories
        )
    ]
    if not covering:
        yield Violation(
            Location(overlay.kustomization),
            "no ClusterImagePolicy covers the runtime image",
            f"a ClusterImagePolicy whose images glob matches {sorted(repositories)}",
            "none",
        )
    for policy in covering:
        yield from _policy_identity(policy, signer)


def _namespaces_opted_in(overlay: Overlay) -> Iterator[Violation]:
    """The policy-controller only checks namespaces labelled to include them."""
    for name in sorted(
        {w.namespace or "default" for w in overlay.of_kind(*WORKLOAD_KINDS)}
    ):
        namespace = overlay.find("Namespace", name)
        if namespace is None:
            yield Violation(
                Location(overlay.kustomization),
                f"namespace {name} of the runtime is not defined in the overlay",
                f'Namespace {name} labelled {SIGSTORE_INCLUDE}: "true"',
                "no Namespace object",
            )
            continue
        yield from _check(
            namespace,
            ("metadata", "labels", SIGSTORE_INCLUDE),
            namespace.get("metadata", "labels", SIGSTORE_INCLUDE) == "true",
            f"namespace {name} is not opted in to image policy admission",
            f'label {SIGSTORE_INCLUDE}: "true"',
        )


def _policy_identity(
    policy: KubeObject, signer: Mapping[str, Any]
) -> Iterator[Violation]:
    yield from _check(
        policy,
        ("spec", "mode"),
        policy.get("spec", "mode") in (None, "enforce"),
        f"ClusterImagePolicy {policy.name} only warns",
        "mode: enforce",
    )
    authorities = policy.get("spec", "authorities") or []
    if not authorities:
        yield Violation(
            policy.location("spec"),
            f"ClusterImagePolicy {policy.name} has no authority",
            "a keyless authority",
            "none",
        )
    for index, authority in enumerate(authorities):
        where = ("spec", "authorities", index)
        identities = (
            (authority.get("keyless") or {}).get("identities")
            if isinstance(authority, dict)
            else None
        )
        if not identities:
            yield Violation(
                policy.location(*where),
                f"ClusterImagePolicy {policy.name} authority {index} is not keyless "
                "with identities",
                "keyless.identities",
                _show(sorted(authority) if isinstance(authority, dict) else authority),
            )
            continue
        for number, identity in enumerate(identities):
            at = (*where, "keyless", "identities", number)
            wanted = {"issuer": signer["issuer"], "subject": signer["identity"]}
            if identity != wanted:
                yield Violation(
                    policy.location(*at),
                    f"ClusterImagePolicy {policy.name} admits a signer other than "
                    f"{SIGNING_POLICY}'s",
                    f"issuer {signer['issuer']}, subject {signer['identity']} "
                    "(exact, no RegExp)",
                    _show(identity),
                )


# --- TST-U1: manifest validation --------------------------------------------


Schemas = dict[tuple[str, str], tuple[str, dict[str, Any]]]
OBJECTS_SCHEMA = ("", "secretproviderclass-objects.schema")


def _custom_schemas(evidence: Evidence) -> Schemas:
    """(apiVersion, kind) -> (file, schema) for every k8s/schemas/*.json.

    A schema without const apiVersion and kind is kept under ("", file stem).
    Raises LoadError for a schema file that is not JSON.
    """
    return evidence.load("kubernetes-schemas", _load_schemas)


def _load_schemas(evidence: Evidence) -> Schemas:
    schemas: Schemas = {}
    for path in sorted((evidence.root / SCHEMAS).glob("*.json")):
        relative = f"{SCHEMAS}/{path.name}"
        try:
            schema = json.loads(evidence.read_bytes(relative))
        except (OSError, ValueError) as error:
            raise LoadError(relative, None, f"not a JSON schema: {error}") from error
        if not isinstance(schema, dict):
            raise LoadError(relative, None, "a JSON schema must be an object")
        properties = schema.get("properties") or {}
        version = (properties.get("apiVersion") or {}).get("const")
        kind = (properties.get("kind") or {}).get("const")
        if version and kind:
            schemas[(version, kind)] = (relative, schema)
        else:
            schemas[("", path.stem)] = (relative, schema)
    return schemas


def _schema_error(
    obj: KubeObject, schemas: Schemas
) -> tuple[tuple[Any, ...], str] | None:
    """(path, message) of the first schema violation of obj, or None."""
    custom = schemas.get((obj.api_version, obj.kind))
    try:
        if custom is None:
            validator = _builtin_validator(obj.api_version, obj.kind)
            if validator is None:
                return (), f"no schema for {obj.api_version}/{obj.kind}"
            validator.validate(obj.body)
        else:
            _validate(obj.body, custom[1])
    except kubernetes_validate.InvalidSchemaError as error:
        return (), f"the schema for {obj.api_version}/{obj.kind} is invalid: {error}"
    except jsonschema.SchemaError as error:
        return (), f"{custom[0] if custom else 'a schema'} is invalid: {error.message}"
    except jsonschema.ValidationError as error:
        return _located(error, ())
    if obj.kind == "SecretProviderClass" and OBJECTS_SCHEMA in schemas:
        return _objects_error(obj, schemas[OBJECTS_SCHEMA][1])
    return None


@functools.cache
def _builtin_validator(api_version: str, kind: str) -> Any | None:
    """The strict validator of one built-in kind, or None when there is no schema.

    kubernetes_validate.validate reads and parses its large definitions file
    on every call; building each kind's validator once per process is what
    keeps this control fast on large estates. The schema layout is the one of
    the pinned kubernetes-validate release.
    """
    versions = [
        version
        for version in kubernetes_validate.utils.all_versions()
        if _minor(version) <= _minor(KUBERNETES_VERSION)
    ]
    folder = f"kubernetes-json-schema/v{versions[-1]}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _schema_file(f"{folder}/{kind.lower()}-{group}.json")
    except FileNotFoundError:
        return None
    definitions = _schema_file(f"{folder}/_definitions.json")
    registry = Resource.from_contents(definitions) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


@functools.cache
def _schema_file(name: str) -> Any:
    return kubernetes_validate.utils.schema_contents(name, KUBERNETES_VERSION)


# Validators of the custom schemas, by the id of their schema; the schema is
# kept alongside so that its id cannot be reused by another object.
_CUSTOM_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    """jsonschema.validate, with the schema checked and compiled once.

    jsonschema.validate checks the schema against its metaschema on every
    call, which cost more than the validation itself on a large estate.
    Raises SchemaError for an invalid schema and the best-matching
    ValidationError, exactly as jsonschema.validate does.
    """
    if id(schema) not in _CUSTOM_VALIDATORS:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _CUSTOM_VALIDATORS[id(schema)] = (schema, cls(schema))
    validator = _CUSTOM_VALIDATORS[id(schema)][1]
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def _objects_error(
    obj: KubeObject, schema: dict[str, Any]
) -> tuple[tuple[Any, ...], str] | None:
    """The AWS provider's objects parameter is YAML in a string: validate it too."""
    parsed, _ = _objects_parameter(obj)
    where = ("spec", "parameters", "objects")
    try:
        _validate(parsed, schema)
    except jsonschema.ValidationError as error:
        return _located(error, where)
    return None


def _located(error: Any, prefix: tuple[Any, ...]) -> tuple[tuple[Any, ...], str]:
    inner = tuple(error.absolute_path)
    shown = "/".join(map(str, (*prefix, *inner)))
    return (prefix or inner), f"{error.message} (at /{shown})"


@control(
    id="K8S-MANIFEST-SCHEMA",
    title="Every rendered object validates against its Kubernetes or custom schema",
    clauses=("TST-U1",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "A manifest the API server would reject, or a misspelt field it would "
        "silently drop, must fail before deployment; a kind with no schema is "
        "not validated, so it fails too."
    ),
    remedy=(
        "Fix the field the message names; for a new custom resource, add its "
        "schema under k8s/schemas/ (properties.apiVersion/kind as const)."
    ),
    subjects=overlays,
)
def manifest_schema(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each object validates (kubernetes_validate strict, or k8s/schemas/*.json)."""
    overlay = subject.data
    if not isinstance(overlay, Overlay):
        yield from _absent(subject)
        return
    schemas = _custom_schemas(evidence)
    for obj in overlay.objects:
        problem = _schema_error(obj, schemas)
        if problem:
            path, message = problem
            yield Violation(
                obj.location(*path),
                f"{obj.kind} {obj.name}: {message}",
                "valid against its schema",
                message,
            )


# --- THR-1, ENV-2: drift between environments -------------------------------

# Paths that may differ per environment: replica counts, resources,
# configuration, secrets, disruption budgets and the VPC address range.
_ALLOWED_DRIFT = (
    ("Deployment", ("spec", "replicas")),
    ("StatefulSet", ("spec", "replicas")),
    ("Deployment", ("spec", "template", "spec", "containers", "*", "resources")),
    ("StatefulSet", ("spec", "template", "spec", "containers", "*", "resources")),
    ("ConfigMap", ("data",)),
    ("SecretProviderClass", ()),
    ("PodDisruptionBudget", ("spec", "minAvailable")),
    ("PodDisruptionBudget", ("spec", "maxUnavailable")),
    ("HorizontalPodAutoscaler", ("spec", "minReplicas")),
    ("HorizontalPodAutoscaler", ("spec", "maxReplicas")),
    ("NetworkPolicy", ("spec", "egress", "*", "to", "*", "ipBlock", "cidr")),
    ("NetworkPolicy", ("spec", "ingress", "*", "from", "*", "ipBlock", "cidr")),
)


def _allowed(kind: str, path: tuple[Any, ...]) -> bool:
    for allowed_kind, prefix in _ALLOWED_DRIFT:
        if (
            kind == allowed_kind
            and len(path) >= len(prefix)
            and all(p in ("*", q) for p, q in zip(prefix, path, strict=False))
        ):
            return True
    return False


def _leaves(
    value: Any, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


_MISSING = object()


@control(
    id="K8S-OVERLAY-DRIFT",
    title="Overlays differ only in replicas, resources, configuration and secrets",
    clauses=("THR-1", "ENV-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "What is tested in dev and stage must be what runs in prod: a security "
        "context, a probe, an image or a policy that differs between "
        "environments is drift, and prod is then untested."
    ),
    remedy=(
        "Move the setting to k8s/base so every environment shares it; an overlay "
        "may change only replicas, resources, ConfigMap data, its "
        "SecretProviderClass, disruption budget numbers and its VPC CIDR."
    ),
    subjects=all_overlays,
)
def overlay_drift(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Objects and fields agree across environments outside the allowed paths."""
    model: KubernetesModel = subject.data
    present = [env for env in ENVIRONMENTS if env in model.overlays]
    for env in ENVIRONMENTS:
        if env not in model.overlays:
            yield Violation(
                Location(f"{OVERLAYS}/{env}"),
                f"environment {env} has no overlay to compare",
                f"an overlay for each of {', '.join(ENVIRONMENTS)}",
                "no such folder",
            )
    by_key: dict[tuple[str, str], dict[str, KubeObject]] = {}
    for env in present:
        for obj in model.overlays[env].objects:
            by_key.setdefault((obj.kind, obj.name), {})[env] = obj
    for (kind, name), by_env in sorted(by_key.items()):
        absent = [env for env in present if env not in by_env]
        for env in absent:
            some = next(iter(by_env.values()))
            yield Violation(
                some.location(),
                f"{kind} {name} is missing from the {env} overlay",
                f"{kind} {name} in every environment",
                f"only in {', '.join(sorted(by_env))}",
            )
        yield from _field_drift(kind, by_env)


def _field_drift(kind: str, by_env: Mapping[str, KubeObject]) -> Iterator[Violation]:
    values: dict[tuple[Any, ...], dict[str, Any]] = {}
    for env, obj in by_env.items():
        for path, value in _leaves(obj.body):
            if not _allowed(kind, path):
                values.setdefault(path, {})[env] = value
    for path, per_env in sorted(values.items(), key=lambda item: str(item[0])):
        full = {env: per_env.get(env, _MISSING) for env in by_env}
        counts = Counter(
            json.dumps(v, sort_keys=True, default=str) for v in full.values()
        )
        if len(counts) < 2:
            continue
        reference = counts.most_common(1)[0][0]
        for env, value in sorted(full.items()):
            if json.dumps(value, sort_keys=True, default=str) != reference:
                obj = by_env[env]
                hidden = _may_be_secret(kind, path, value)
                shown = "absent" if value is _MISSING else _show(value)
                expected = "the value of the other environments"
                yield Violation(
                    obj.location(*path),
                    f"{kind} {obj.name} differs in {env} at {'.'.join(map(str, path))}",
                    expected if hidden else f"{expected} ({reference})",
                    "a different value (not shown)" if hidden else shown,
                )


def _may_be_secret(kind: str, path: tuple[Any, ...], value: Any) -> bool:
    """Whether a drifting value must not be echoed (Secrets, env, credential shapes)."""
    if kind == "Secret" or "env" in path:
        return True
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return True
    return any(isinstance(part, str) and SECRET_NAME.search(part) for part in path)
