"""Every object the overlays render is valid for Kubernetes (RFC-16 TST-U1).

Each overlay is rendered with ``kubectl kustomize``; Kubernetes' own kinds are
validated offline with kubernetes_validate (strict: unknown fields fail), the
custom resources against the schemas in k8s/schemas/.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "k8s" / "schemas"
ENVIRONMENTS = ("dev", "stage", "prod")
# The clusters' version (kubernetes_version in infra/terraform/envs/*/terraform.tfvars).
KUBERNETES_VERSION = "1.33.0"

# Custom resources and the file of their schema under k8s/schemas/.
CUSTOM_SCHEMAS = {
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): (
        "secretproviderclass.schema.json"
    ),
    ("policy.sigstore.dev/v1beta1", "ClusterImagePolicy"): (
        "clusterimagepolicy.schema.json"
    ),
}

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)


class ManifestSchemaError(Exception):
    """A rendered object does not match its schema; the message names it."""


def render(overlay: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize`` renders for an overlay directory."""
    completed = subprocess.run(
        ["kubectl", "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ManifestSchemaError(f"{overlay}: kustomize failed: {completed.stderr}")
    return [doc for doc in yaml.safe_load_all(completed.stdout) if doc is not None]


@cache
def rendered(environment: str) -> tuple[dict[str, Any], ...]:
    """The real repository's objects for one environment, rendered once."""
    return tuple(render(REPO / "k8s" / "overlays" / environment))


@cache
def schema(name: str) -> dict[str, Any]:
    """A schema of k8s/schemas/, parsed once."""
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def describe(obj: dict[str, Any]) -> str:
    """kind/name of an object, as Kubernetes prints it."""
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def validate_custom(obj: dict[str, Any], schema_name: str) -> None:
    """Validate a custom resource against its schema in k8s/schemas/."""
    try:
        jsonschema.validate(obj, schema(schema_name))
        if obj["kind"] == "SecretProviderClass":
            objects = yaml.safe_load(obj["spec"]["parameters"]["objects"])
            jsonschema.validate(
                objects, schema("secretproviderclass-objects.schema.json")
            )
    except jsonschema.ValidationError as error:
        path = "/".join(str(part) for part in error.absolute_path)
        raise ManifestSchemaError(
            f"{describe(obj)}: {error.message} (at /{path})"
        ) from error


def validate_object(obj: dict[str, Any]) -> None:
    """Validate one rendered object; raise ManifestSchemaError naming it.

    An object whose kind has neither a Kubernetes schema nor one of ours
    fails: nothing is deployed unvalidated.
    """
    custom = CUSTOM_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    if custom is not None:
        validate_custom(obj, custom)
        return
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as error:
        raise ManifestSchemaError(
            f"{describe(obj)}: no schema for {obj.get('apiVersion')} "
            f"{obj.get('kind')}; add one under k8s/schemas/"
        ) from error
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(part) for part in error.absolute_path)
        raise ManifestSchemaError(
            f"{describe(obj)}: {error.message} (at /{path})"
        ) from error


def find(environment: str, kind: str, name: str) -> dict[str, Any]:
    """A deep copy of one rendered object of the real repository."""
    for obj in rendered(environment):
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return copy.deepcopy(obj)
    raise LookupError(f"{environment}: no {kind}/{name} rendered")


# The real overlays.


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rendered_object_of_the_overlay_is_valid(environment: str) -> None:
    objects = rendered(environment)

    assert objects, f"{environment}: the overlay renders nothing"
    for obj in objects:
        validate_object(obj)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_overlay_renders_every_kind_of_the_deployment(environment: str) -> None:
    kinds = {obj["kind"] for obj in rendered(environment)}

    assert kinds >= {
        "Namespace",
        "Deployment",
        "Service",
        "ServiceAccount",
        "ConfigMap",
        "SecretProviderClass",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterImagePolicy",
    }
    assert "Secret" not in kinds


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_runtime_json_of_the_overlay_is_valid_json(environment: str) -> None:
    config_map = find(environment, "ConfigMap", "runtime-api-config")

    runtime = json.loads(config_map["data"]["runtime.json"])

    assert runtime["database"]["sslmode"] == "verify-full"
    assert runtime["object_storage"]["bucket"] == f"tenon-{environment}-runtime-objects"
    assert runtime["listen"] == {"host": "0.0.0.0", "port": 8080}  # noqa: S104


# Invalid objects are rejected, with a message naming the object and field.


def test_deployment_with_replicas_as_a_word_is_rejected() -> None:
    deployment = find("prod", "Deployment", "runtime-api")
    deployment["spec"]["replicas"] = "two"

    with pytest.raises(
        ManifestSchemaError,
        match=r"^Deployment/runtime-api: 'two' is not of type 'integer', 'null' "
        r"\(at /spec/replicas\)$",
    ):
        validate_object(deployment)


def test_container_with_misspelled_field_is_rejected() -> None:
    deployment = find("dev", "Deployment", "runtime-api")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(
        ManifestSchemaError,
        match=r"^Deployment/runtime-api: .*'readinesProbe' was unexpected",
    ):
        validate_object(deployment)


def test_secret_provider_class_syncing_to_a_secret_is_rejected() -> None:
    provider_class = find("stage", "SecretProviderClass", "runtime-api-secrets")
    provider_class["spec"]["secretObjects"] = [
        {"secretName": "runtime-api-db", "type": "Opaque", "data": []}
    ]

    with pytest.raises(
        ManifestSchemaError,
        match=r"^SecretProviderClass/runtime-api-secrets: .*'secretObjects' was "
        r"unexpected",
    ):
        validate_object(provider_class)


def test_secret_provider_class_with_jmes_path_without_alias_is_rejected() -> None:
    provider_class = find("prod", "SecretProviderClass", "runtime-api-secrets")
    provider_class["spec"]["parameters"]["objects"] = (
        '- objectName: "tenon/prod/runtime-api/database"\n'
        '  objectType: "secretsmanager"\n'
        "  jmesPath:\n"
        '    - path: "password"\n'
    )

    with pytest.raises(
        ManifestSchemaError,
        match=r"^SecretProviderClass/runtime-api-secrets: 'objectAlias' is a "
        r"required property \(at /0/jmesPath/0\)$",
    ):
        validate_object(provider_class)


def test_image_policy_with_a_subject_regexp_is_rejected() -> None:
    policy = find("prod", "ClusterImagePolicy", "tenon-runtime-signed")
    identity = policy["spec"]["authorities"][0]["keyless"]["identities"][0]
    identity["subjectRegExp"] = identity.pop("subject")

    with pytest.raises(
        ManifestSchemaError,
        match=r"^ClusterImagePolicy/tenon-runtime-signed: .*'subject' is a required "
        r"property",
    ):
        validate_object(policy)


def test_object_of_an_unknown_kind_is_rejected() -> None:
    unknown = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "runtime-api", "namespace": "tenon"},
    }

    with pytest.raises(
        ManifestSchemaError,
        match=r"^Widget/runtime-api: no schema for example.com/v1 Widget; add one "
        r"under k8s/schemas/$",
    ):
        validate_object(unknown)


def test_overlay_that_does_not_render_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")

    with pytest.raises(ManifestSchemaError, match=r"kustomize failed: .*missing"):
        render(tmp_path)
