"""Terraform controls: state, stacks, network, cluster, database, storage, identity.

Every control reads the statically resolved model of ``loaders.terraform``.
A value that cannot be resolved before ``terraform apply`` is a violation of
every security control ("cannot be resolved statically: <reason>"): a guess
would be a silent pass. Subjects are discovered, never listed by hand:
``stack:<env>`` for a stack, ``<env>:<address>`` for a resource instance,
``terraform:infra/terraform`` for properties of the whole tree.

Known shortcomings:

- the runtime's AWS identity is recognised through EKS Pod Identity only; an
  IRSA role (OIDC trust on system:serviceaccount:tenon:runtime-api) would make
  TF-IAM-RUNTIME-POD-IDENTITY fail, because the conventions use Pod Identity;
- TF-IAM-NO-WILDCARD reads the stack's own policies (inline and
  ``aws_iam_policy``), not AWS managed policies attached by ARN, and not KMS
  key policies, whose ``"*"`` resource means "this key" by design;
- TF-STACKS-SAME-SECURITY compares booleans and a fixed list of security
  attribute names, with the environment's name blanked; an attribute outside
  that list may differ between environments unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tenon_compliance.controls.base import control
from tenon_compliance.evidence import ENVIRONMENTS, Evidence
from tenon_compliance.loaders.terraform import (
    TERRAFORM_ROOT,
    Attr,
    BlockValue,
    Missing,
    ResourceInstance,
    Stack,
    TerraformModel,
    model,
)
from tenon_compliance.loaders.terraform_eval import Reference, Symbolic
from tenon_compliance.loaders.terraform_policy import Statement, statements, text
from tenon_compliance.model import (
    Location,
    Method,
    Severity,
    Subject,
    Unknown,
    Violation,
)

Predicate = Callable[[Any], bool]

# --- Subjects ---------------------------------------------------------------


def environment_stacks(evidence: Evidence) -> list[Subject]:
    """``stack:<env>`` for every stack under infra/terraform/envs/."""
    return [
        Subject(f"stack:{stack.name}", stack.location, stack)
        for stack in model(evidence).environment_stacks
    ]


def every_stack(evidence: Evidence) -> list[Subject]:
    """Every stack, the bootstrap stack included."""
    return [
        Subject(f"stack:{stack.name}", stack.location, stack)
        for stack in model(evidence).stacks
    ]


def bootstrap_stack(evidence: Evidence) -> list[Subject]:
    """The bootstrap stack (state bucket and key), when it exists."""
    return [s for s in every_stack(evidence) if s.id == "stack:bootstrap"]


def terraform_tree(evidence: Evidence) -> list[Subject]:
    """The whole Terraform tree, for properties that span stacks."""
    tree = model(evidence)
    return [Subject(f"terraform:{TERRAFORM_ROOT}", Location(TERRAFORM_ROOT), tree)]


def resources(
    *types: str, mode: str = "managed"
) -> Callable[[Evidence], list[Subject]]:
    """A selector of every instance of the given types in every environment stack."""

    def select(evidence: Evidence) -> list[Subject]:
        return [
            Subject(
                f"{stack.name}:{resource.address}", resource.location, (stack, resource)
            )
            for stack in model(evidence).environment_stacks
            for resource in stack.resources
            if resource.type in types and resource.mode == mode
        ]

    return select


def _stack_of(subject: Subject) -> Stack:
    return subject.data  # type: ignore[no-any-return]


def _pair(subject: Subject) -> tuple[Stack, ResourceInstance]:
    return subject.data  # type: ignore[no-any-return]


# --- Checking values --------------------------------------------------------


def show(value: Any) -> str:
    """A short rendering of a non-secret value for a finding."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Unknown):
        return "unknown"
    rendered = repr(value) if isinstance(value, str) else str(value)
    return rendered if len(rendered) <= 120 else rendered[:117] + "..."


def unresolved(
    location: Location, what: str, value: Unknown, expected: str
) -> Violation:
    """The violation for a value that cannot be known before apply."""
    return Violation(
        location,
        f"{what} cannot be resolved statically: {value.reason}",
        expected,
        "unknown",
    )


def require(
    attribute: Attr | Missing, what: str, expected: str, ok: Predicate
) -> Iterator[Violation]:
    """Yield a violation unless the attribute is set, known and accepted by ok."""
    if isinstance(attribute, Missing):
        yield Violation(attribute.location, f"{what} is not set", expected, "not set")
        return
    value = attribute.value
    if isinstance(value, Unknown):
        yield unresolved(attribute.location, what, value, expected)
    elif not ok(value):
        found = f"{what} is {show(value)}{set_at(attribute)}"
        yield Violation(attribute.location, found, expected, show(value))


def set_at(attribute: Attr) -> str:
    """`` (set at file:line)`` when the value was given elsewhere (tfvars, caller)."""
    if attribute.origin is None or attribute.origin == attribute.location:
        return ""
    return f" (set at {attribute.origin})"


def equals(expected: Any) -> Predicate:
    """A predicate accepting exactly one value (bools are not numbers)."""
    return lambda value: type(value) is type(expected) and value == expected


def is_true(value: Any) -> bool:
    return value is True


def is_false(value: Any) -> bool:
    return value is False


def points_at(stack: Stack, value: Any, *types: str) -> bool:
    """True when value references an instance of one of the types in the stack."""
    if isinstance(value, Symbolic) and len(value.references) == 1:
        value = value.references[0]
    if not isinstance(value, Reference):
        return False
    return any(r.type in types for r in stack.referenced(value))


def attached(
    stack: Stack, kind: str, target: ResourceInstance, attribute: str = "bucket"
) -> list[ResourceInstance]:
    """Instances of kind whose attribute references the target resource."""
    return stack.referencing(kind, attribute, target)


def followed(
    stack: Stack, attribute: Attr | Missing, kind: str
) -> ResourceInstance | None:
    """The single instance of kind that an attribute references, if any."""
    value = attribute.value if attribute else None
    if not isinstance(value, Reference):
        return None
    matches = [r for r in stack.referenced(value) if r.type == kind]
    return matches[0] if len(matches) == 1 else None


def _kms_key(stack: Stack) -> Predicate:
    return lambda value: points_at(stack, value, "aws_kms_key", "aws_kms_alias")


# --- IaC and state ----------------------------------------------------------

_EXACT_VERSION = re.compile(r"^\s*=?\s*\d+\.\d+\.\d+\s*$")


@control(
    id="TF-STATE-REMOTE-ENCRYPTED",
    title="Every environment stack keeps its state in S3, KMS-encrypted and locked",
    clauses=("IAC-2",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="RFC-16 makes remote state mandatory; state holds resource secrets.",
    remedy='Use backend "s3" with encrypt = true, kms_key_id and use_lockfile = true.',
    subjects=environment_stacks,
)
def state_backend(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    backend = stack.backend
    if backend is None or backend.labels != ("s3",):
        found = "no backend" if backend is None else f'backend "{backend.labels[0]}"'
        where = backend.location if backend else stack.location
        yield Violation(where, f"the stack has {found}", 'backend "s3"', found)
        return
    yield from require(backend.attr("encrypt"), "backend encrypt", "true", is_true)
    yield from require(
        backend.attr("kms_key_id"), "backend kms_key_id", "a KMS key", _non_empty
    )
    yield from require(
        backend.attr("use_lockfile"), "backend use_lockfile", "true", is_true
    )
    yield from require(backend.attr("key"), "backend key", "a state key", _non_empty)


def _non_empty(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or isinstance(
        value, Reference | Symbolic
    )


@control(
    id="TF-STATE-KEYS-DISTINCT",
    title="Each stack has its own state key",
    clauses=("IAC-4", "THR-1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="One environment is one stack: two stacks sharing a state would "
    "overwrite each other.",
    remedy="Give each stack the backend key envs/<env>/terraform.tfstate.",
    subjects=terraform_tree,
)
def state_keys_distinct(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    tree: TerraformModel = subject.data
    seen: dict[tuple[Any, Any], Stack] = {}
    for stack in tree.environment_stacks:
        if stack.backend is None:
            continue
        key, bucket = stack.backend.attr("key"), stack.backend.attr("bucket")
        expected = f"envs/{stack.name}/terraform.tfstate"
        if key and key.value != expected:
            yield Violation(
                key.location,
                f"stack {stack.name} uses state key {show(key.value)}",
                repr(expected),
                show(key.value),
            )
        identity = (bucket.value if bucket else None, key.value if key else None)
        if identity in seen:
            other = seen[identity].name
            where = key.location if key else stack.backend.location
            yield Violation(
                where,
                f"stacks {other} and {stack.name} share one state",
                "a distinct key per stack",
                show(identity[1]),
            )
        seen[identity] = stack


@control(
    id="TF-ENVIRONMENTS",
    title="Exactly the three environments dev, stage and prod exist as stacks",
    clauses=("ENV-1", "IAC-4"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="RFC-16 asks for three isolated environments, one stack each.",
    remedy="Keep exactly infra/terraform/envs/{dev,stage,prod}.",
    subjects=terraform_tree,
)
def environments(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    tree: TerraformModel = subject.data
    found = sorted(stack.name for stack in tree.environment_stacks)
    missing = [env for env in ENVIRONMENTS if env not in found]
    extra = [name for name in found if name not in ENVIRONMENTS]
    if missing or extra:
        yield Violation(
            Location(f"{TERRAFORM_ROOT}/envs"),
            f"environment stacks are {found or 'none'} "
            f"(missing {missing}, extra {extra})",
            ", ".join(ENVIRONMENTS),
            ", ".join(found) or "none",
        )


@control(
    id="TF-VERSIONS-PINNED",
    title="Terraform and every provider are pinned to one exact version",
    clauses=("TST-P2", "INV-4.1"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="A reproducible deployment needs the same Terraform and providers "
    "on every run.",
    remedy='Set required_version = "1.11.4" and version = "x.y.z" for every provider.',
    subjects=every_stack,
)
def versions_pinned(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    if stack.terraform is None:
        yield Violation(
            stack.location,
            "the stack has no terraform block",
            "required_version and required_providers",
            "none",
        )
        return
    yield from require(
        stack.terraform.attr("required_version"),
        "required_version",
        "one exact version",
        _exact,
    )
    if not stack.required_providers:
        yield Violation(
            stack.terraform.location,
            "no required_providers",
            "every provider pinned",
            "none",
        )
    for name, entry in stack.required_providers.items():
        version = entry.value.get("version") if isinstance(entry.value, dict) else None
        if not _exact(version):
            yield Violation(
                entry.location,
                f"provider {name} version is {show(version)}",
                "one exact version",
                show(version),
            )


def _exact(value: Any) -> bool:
    return isinstance(value, str) and bool(_EXACT_VERSION.match(value))


@control(
    id="TF-MODULE-SOURCES-LOCAL",
    title="Stacks call only the repository's own modules",
    clauses=("INV-4.1", "MIT-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Code fetched from a registry or git at plan time escapes review "
    "and audit of this repository.",
    remedy="Vendor the module under infra/terraform/modules/ and call it by "
    "../../modules/<name>.",
    subjects=every_stack,
)
def module_sources_local(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    for call in stack.module_calls:
        if call.local_dir is None:
            yield Violation(
                call.source.location if call.source else call.location,
                f"{call.address} has the non-local source {show(call.source.value)}",
                "../../modules/<name>",
                show(call.source.value),
            )


def stacks_and_modules(evidence: Evidence) -> list[Subject]:
    """Every stack and every module (module variables have defaults too)."""
    tree = model(evidence)
    subjects = every_stack(evidence)
    subjects += [Subject(f"module:{m.name}", m.location, m) for m in tree.modules]
    return subjects


# Files that would mean a second infrastructure-as-code tool is in use.
_OTHER_IAC_TOOLS = ("Pulumi.yaml", "cdk.json", "cdktf.json", "template.yaml")


@control(
    id="TF-IAC-IS-TERRAFORM",
    title="The infrastructure is defined in Terraform, and only in Terraform",
    clauses=("IAC-1", "INV-4.1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="RFC-16 names Terraform as the IaC tool; a second tool would be a "
    "second, unchecked source of truth.",
    remedy="Define every environment under infra/terraform/envs with a terraform "
    "block, and remove other IaC definitions.",
    subjects=terraform_tree,
)
def iac_is_terraform(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    tree: TerraformModel = subject.data
    if not tree.environment_stacks:
        yield Violation(
            Location(f"{TERRAFORM_ROOT}/envs"),
            "no environment stack",
            "a Terraform stack per environment",
            "none",
        )
    for stack in tree.stacks:
        if stack.terraform is None:
            yield Violation(
                stack.location,
                f"stack {stack.name} has no terraform block",
                "a terraform block",
                "none",
            )
    for name in _OTHER_IAC_TOOLS:
        for path in sorted(evidence.root.glob(f"**/{name}")):
            relative = path.relative_to(evidence.root).as_posix()
            if not relative.startswith((".git/", "tests/")):
                yield Violation(
                    Location(relative),
                    f"{name} defines infrastructure outside Terraform",
                    "Terraform only",
                    relative,
                )


@control(
    id="TF-LINT",
    title="Terraform code is consistent: typed, described, called with declared inputs",
    clauses=("TST-U2",),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="IaC lint catches what terraform validate would, without providers: "
    "undeclared or missing module inputs, untyped and undocumented variables.",
    remedy="Give every variable a type and a description, every output a "
    "description, and pass a module exactly its declared variables.",
    subjects=stacks_and_modules,
)
def terraform_lint(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    files = subject.data.files
    yield from _lint_declarations(files)
    if isinstance(subject.data, Stack):
        tree = model(evidence)
        for call in subject.data.module_calls:
            module = next(
                (m for m in tree.modules if m.directory == call.local_dir), None
            )
            if module is not None:
                yield from _lint_call(call, module)


def _lint_declarations(files: Iterable[Any]) -> Iterator[Violation]:
    for file in files:
        for block in file.body.blocks:
            name = block.labels[0] if block.labels else "?"
            where = Location(file.path, block.line)
            wanted = {"variable": ("type", "description"), "output": ("description",)}
            for attribute in wanted.get(block.type, ()):
                if attribute not in block.body.attributes:
                    yield Violation(
                        where,
                        f"{block.type} {name} has no {attribute}",
                        f"a {attribute}",
                        "none",
                    )


def _lint_call(call: Any, module: Any) -> Iterator[Violation]:
    declared: dict[str, bool] = {}
    for file in module.files:
        for block in file.body.blocks:
            if block.type == "variable" and block.labels:
                declared[block.labels[0]] = "default" in block.body.attributes
    for argument, location in call.arguments.items():
        if argument not in declared:
            yield Violation(
                location,
                f"{call.address} passes {argument}, which "
                f"module {module.name} does not declare",
                "a declared variable",
                argument,
            )
    for variable, has_default in sorted(declared.items()):
        if not has_default and variable not in call.arguments:
            yield Violation(
                call.location,
                f"{call.address} does not pass the required variable {variable}",
                variable,
                "not passed",
            )


_MANAGED = {
    "VPC": ("aws_vpc",),
    "database": ("aws_db_instance", "aws_rds_cluster"),
    "object storage bucket": ("aws_s3_bucket",),
    "Kubernetes cluster": ("aws_eks_cluster",),
    "IAM role": ("aws_iam_role",),
}


@control(
    id="TF-STACK-MANAGES-PLATFORM",
    title="Every environment stack manages network, database, bucket, cluster and IAM",
    clauses=("IAC-3", "INV-4.1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="RFC-16 lists what IaC must manage; anything missing is made by hand.",
    remedy="Call the network, database, object_storage, cluster and identity modules.",
    subjects=environment_stacks,
)
def stack_manages_platform(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    for what, types in _MANAGED.items():
        if not any(stack.resources_of(kind) for kind in types):
            yield Violation(
                stack.location,
                f"the stack manages no {what}",
                " or ".join(types),
                "none",
            )


@control(
    id="TF-STACKS-SAME-CODE",
    title="The environment stacks differ only in their tfvars (and state key)",
    clauses=("THR-1", "ENV-2", "TST-P2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Drift between environments starts as a difference in code.",
    remedy="Move the difference into terraform.tfvars or into a module variable.",
    subjects=terraform_tree,
)
def stacks_same_code(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    tree: TerraformModel = subject.data
    stacks = tree.environment_stacks
    reference = next((s for s in stacks if s.name == "prod"), None)
    if reference is None:
        yield _no_reference()
        return
    expected = _normalised_files(reference)
    for stack in stacks:
        if stack is not reference:
            yield from _compare_files(stack, expected, reference.name)


def _no_reference() -> Violation:
    # Without prod there is nothing to compare with: a failure, never a pass.
    return Violation(
        Location(f"{TERRAFORM_ROOT}/envs"),
        "there is no prod stack to compare the other environments with",
        "a prod stack",
        "none",
    )


def _normalised_files(stack: Stack) -> dict[str, list[str]]:
    """Each .tf file's lines, with the environment's name blanked in the backend.

    The backend block is the one place where the stacks must differ (their own
    state bucket and key), so its lines are compared with ``<env>`` in place
    of the environment's name.
    """
    name = re.compile(rf"\b{re.escape(stack.name)}\b")
    backend_lines = _backend_lines(stack)
    return {
        file.path.rsplit("/", 1)[-1]: [
            name.sub("<env>", line) if (file.path, number) in backend_lines else line
            for number, line in enumerate(file.source.splitlines(), 1)
        ]
        for file in stack.files
    }


def _backend_lines(stack: Stack) -> set[tuple[str, int]]:
    if stack.backend is None:
        return set()
    path, first = stack.backend.location.file, stack.backend.location.line or 1
    lines = next(f.source for f in stack.files if f.path == path).splitlines()
    opening = lines[first - 1]
    indent = len(opening) - len(opening.lstrip())
    covered = set()
    for number in range(first, len(lines) + 1):
        covered.add((path, number))
        line = lines[number - 1]
        if (
            number > first
            and line.strip() == "}"
            and len(line) - len(line.lstrip()) == indent
        ):
            break
    return covered


def _compare_files(
    stack: Stack, expected: dict[str, list[str]], reference: str
) -> Iterator[Violation]:
    found = _normalised_files(stack)
    for name in sorted(set(expected) | set(found)):
        path = f"{stack.directory}/{name}"
        if name not in found:
            yield Violation(
                Location(stack.directory),
                f"{name} of {reference} is missing",
                f"the same {name}",
                "absent",
            )
        elif name not in expected:
            yield Violation(
                Location(path, 1),
                f"{name} exists only in {stack.name}",
                f"no {name}, as in {reference}",
                "present",
            )
        else:
            yield from _first_difference(path, found[name], expected[name], reference)


def _first_difference(
    path: str, lines: list[str], expected: list[str], reference: str
) -> Iterator[Violation]:
    for number, (line, other) in enumerate(zip(lines, expected, strict=False), 1):
        if line != other:
            yield Violation(
                Location(path, number),
                f"differs from {reference}",
                other.strip(),
                line.strip(),
            )
            return
    if len(lines) != len(expected):
        number = min(len(lines), len(expected)) + 1
        yield Violation(
            Location(path, number),
            f"differs in length from {reference}",
            f"{len(expected)} lines",
            f"{len(lines)} lines",
        )


# Attributes whose value is a security decision even when not a bool.
_SECURITY_ATTRIBUTES = frozenset(
    {
        "authentication_mode",
        "http_tokens",
        "http_put_response_hop_limit",
        "sse_algorithm",
        "status",
        "ami_type",
        "enabled_cluster_log_types",
        "resources",
        "traffic_type",
        "push_access_level",
        "ip_protocol",
        "from_port",
        "to_port",
        "cidr_ipv4",
        "cidr_ipv6",
        "cidr_blocks",
        "namespace",
        "service_account",
        "object_ownership",
        "min_tls_version",
        "ca_cert_identifier",
    }
)


@control(
    id="TF-STACKS-SAME-SECURITY",
    title="Every environment resolves to the same resources and security settings",
    clauses=("THR-1", "ENV-2", "TST-P2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Sizes may differ between environments; security settings may not.",
    remedy="Make the setting the same in every environment (a module constant).",
    subjects=terraform_tree,
)
def stacks_same_security(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    tree: TerraformModel = subject.data
    stacks = tree.environment_stacks
    reference = next((s for s in stacks if s.name == "prod"), None)
    if reference is None:
        yield _no_reference()
        return
    expected = _security_settings(reference)
    for stack in stacks:
        if stack is reference:
            continue
        found = _security_settings(stack)
        for key in sorted(set(expected) | set(found)):
            yield from _setting_difference(
                stack, key, found.get(key), expected.get(key)
            )


def _security_settings(stack: Stack) -> dict[tuple[str, str], tuple[str, Location]]:
    settings: dict[tuple[str, str], tuple[str, Location]] = {}
    for resource in stack.resources:
        # Only the environment's AWS resources: the GitLab project's settings
        # are one set for the whole project, owned by a single stack.
        if resource.mode != "managed" or not resource.type.startswith("aws_"):
            continue
        address = _generic_address(resource.address, stack.name)
        settings[(address, "")] = ("present", resource.location)
        for path, attribute in _walk(resource.body, ""):
            if (
                isinstance(attribute.value, bool)
                or attribute.name in _SECURITY_ATTRIBUTES
            ):
                rendered = _comparable(attribute.value, stack.name)
                settings[(address, path)] = (rendered, attribute.location)
    return settings


def _generic_address(address: str, env: str) -> str:
    return address.replace(f"tenon-{env}", "tenon-<env>")


def _walk(block: BlockValue, prefix: str) -> Iterator[tuple[str, Attr]]:
    for name, attribute in block.attributes.items():
        yield f"{prefix}{name}", attribute
    for index, inner in enumerate(block.blocks):
        yield from _walk(inner, f"{prefix}{inner.type}[{index}].")


def _comparable(value: Any, env: str) -> str:
    if isinstance(value, Unknown):
        return "unknown"
    return re.sub(rf"\b{re.escape(env)}\b", "<env>", show(value))


def _setting_difference(
    stack: Stack, key: tuple[str, str], found: Any, expected: Any
) -> Iterator[Violation]:
    address, path = key
    what = f"{address} {path}".strip()
    if found is None:
        yield Violation(
            stack.location,
            f"{what} of prod is missing in {stack.name}",
            expected[0],
            "absent",
        )
    elif expected is None:
        yield Violation(
            found[1],
            f"{what} exists in {stack.name} but not in prod",
            "absent, as in prod",
            found[0],
        )
    elif found[0] != expected[0]:
        yield Violation(found[1], f"{what} differs from prod", expected[0], found[0])


_SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|private_key|access_key|api_key|credential)", re.I
)
_NOT_A_SECRET = re.compile(
    r"_(arn|arns|id|ids|name|names|path|prefix|days|count|enabled|type|version|"
    r"length|kms_key_arn|kms_key_id|window_days)$",
    re.I,
)
_SECRET_RESOURCE_ATTRIBUTES = {
    "aws_secretsmanager_secret_version": ("secret_string", "secret_binary"),
    "aws_db_instance": ("password",),
    "aws_rds_cluster": ("master_password",),
    "aws_iam_access_key": ("pgp_key",),
    "aws_iam_user_login_profile": ("password",),
}


def _secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_A_SECRET.search(name)


@control(
    id="TF-NO-SECRET-LITERALS",
    title="No secret value is written in Terraform or tfvars",
    clauses=("SEC-1", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="A secret in the repository is a secret in every clone and in the state.",
    remedy="Let AWS generate it (manage_master_user_password) or write it into "
    "Secrets Manager outside Terraform; keep only its ARN here.",
    subjects=stacks_and_modules,
)
def no_secret_literals(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    # Values are never echoed: a finding names only the variable and its place.
    if isinstance(subject.data, Stack):
        stack = subject.data
        for name, attribute in stack.tfvars.items():
            if _secret_name(name) and _literal_secret(attribute.value):
                yield _secret_violation(attribute.location, f"tfvars sets {name}")
        yield from _secret_defaults(stack.files)
        yield from _secret_resources(stack)
    else:
        yield from _secret_defaults(subject.data.files)


def _literal_secret(value: Any) -> bool:
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and (str(value) != "")
    )


def _secret_violation(location: Location, what: str) -> Violation:
    return Violation(
        location,
        f"{what} to a literal secret value",
        "no secret value in the repository",
        "a literal (value withheld)",
    )


def _secret_defaults(files: Iterable[Any]) -> Iterator[Violation]:
    """Variable defaults and locals with a secret's name and a literal value."""
    for file in files:
        for block in file.body.blocks:
            if block.type == "variable" and block.labels:
                default = block.body.attributes.get("default")
                name = block.labels[0]
                literal = getattr(getattr(default, "expr", None), "value", None)
                if (
                    default is not None
                    and _secret_name(name)
                    and _literal_secret(literal)
                ):
                    where = Location(file.path, default.line)
                    yield _secret_violation(where, f"variable {name} defaults")
            elif block.type == "locals":
                for name, attribute in block.body.attributes.items():
                    value = getattr(attribute.expr, "value", None)
                    if _secret_name(name) and _literal_secret(value):
                        where = Location(file.path, attribute.line)
                        yield _secret_violation(where, f"local {name} is set")


def _secret_resources(stack: Stack) -> Iterator[Violation]:
    for resource in stack.resources:
        for name in _SECRET_RESOURCE_ATTRIBUTES.get(resource.type, ()):
            attribute = resource.attr(name)
            if attribute:
                yield _secret_violation(
                    attribute.location, f"{resource.address} sets {name}"
                )


@control(
    id="TF-BOOTSTRAP-STATE-BUCKET",
    title="The state bucket is KMS-encrypted, versioned and not public",
    clauses=("IAC-2",),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="The remote state holds every resource's attributes, some secret.",
    remedy="Give the bootstrap bucket versioning, SSE-KMS with its key, and a "
    "public access block with all four settings true.",
    subjects=bootstrap_stack,
)
def bootstrap_state_bucket(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    buckets = stack.resources_of("aws_s3_bucket")
    if not buckets:
        yield Violation(
            stack.location,
            "the bootstrap stack manages no S3 bucket",
            "the state bucket",
            "none",
        )
    for bucket in buckets:
        yield from _public_access_block(stack, bucket)
        yield from _sse_kms(stack, bucket)
        yield from _versioning(stack, bucket)


# --- Network ----------------------------------------------------------------

_ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
_OPEN = ("0.0.0.0/0", "::/0")


class _Rule:
    """One ingress rule, whatever resource type wrote it."""

    def __init__(  # noqa: PLR0917 - the six parts every rule kind has
        self,
        where: str,
        location: Location,
        protocol: Attr | Missing,
        from_port: Attr | Missing,
        to_port: Attr | Missing,
        sources: list[Attr | Missing],
    ) -> None:
        self.where = where
        self.location = location
        self.protocol = protocol
        self.from_port = from_port
        self.to_port = to_port
        self.sources = sources


def _inline_ingress(group: ResourceInstance) -> list[BlockValue]:
    """Inline ingress rules, written as blocks or as ``ingress = [{...}]``."""
    rules = list(group.blocks_of("ingress"))
    attribute = group.attr("ingress")
    if isinstance(attribute, Missing):
        return rules
    items = attribute.value if isinstance(attribute.value, list) else [attribute.value]
    for item in items:
        fields = item if isinstance(item, dict) else {}
        block = BlockValue("ingress", (), attribute.location)
        for name in (
            "protocol",
            "from_port",
            "to_port",
            "cidr_blocks",
            "ipv6_cidr_blocks",
        ):
            value = item if isinstance(item, Unknown) else fields.get(name)
            if name in fields or isinstance(item, Unknown):
                block.attributes[name] = Attr(name, value, attribute.location)
        rules.append(block)
    return rules


def ingress_rules(stack: Stack) -> Iterator[_Rule]:
    """Every ingress rule of the stack: inline, aws_security_group_rule, vpc rule."""
    for group in stack.resources_of("aws_security_group"):
        for index, block in enumerate(_inline_ingress(group)):
            yield _Rule(
                f"{group.address} ingress[{index}]",
                block.location,
                block.attr("protocol"),
                block.attr("from_port"),
                block.attr("to_port"),
                [block.attr("cidr_blocks"), block.attr("ipv6_cidr_blocks")],
            )
    for rule in stack.resources_of("aws_security_group_rule"):
        if rule.value("type") == "egress":
            continue
        yield _Rule(
            rule.address,
            rule.location,
            rule.attr("protocol"),
            rule.attr("from_port"),
            rule.attr("to_port"),
            [rule.attr("cidr_blocks"), rule.attr("ipv6_cidr_blocks")],
        )
    for rule in stack.resources_of("aws_vpc_security_group_ingress_rule"):
        yield _Rule(
            rule.address,
            rule.location,
            rule.attr("ip_protocol"),
            rule.attr("from_port"),
            rule.attr("to_port"),
            [rule.attr("cidr_ipv4"), rule.attr("cidr_ipv6")],
        )


def _port_range(rule: _Rule) -> tuple[int, int] | Unknown:
    protocol = rule.protocol.value if rule.protocol else None
    if isinstance(protocol, Unknown):
        return protocol
    if str(protocol).lower() in ("-1", "all"):
        return (0, 65535)
    low = rule.from_port.value if rule.from_port else None
    high = rule.to_port.value if rule.to_port else None
    for value in (low, high):
        if isinstance(value, Unknown):
            return value
        if not isinstance(value, int) or isinstance(value, bool):
            return Unknown(f"{rule.location}: port {show(value)} is not a number")
    return (int(low), int(high))  # type: ignore[arg-type]


@control(
    id="TF-SG-NO-ADMIN-PORTS",
    title="No security group admits SSH (22) or RDP (3389), from any source",
    clauses=("INV-2.1", "MIT-3", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="RFC-16 forbids SSH, RDP and manual exec on production nodes.",
    remedy="Remove the rule; nodes are reached only through the Kubernetes API.",
    subjects=environment_stacks,
)
def sg_no_admin_ports(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    for rule in ingress_rules(_stack_of(subject)):
        ports = _port_range(rule)
        if isinstance(ports, Unknown):
            yield unresolved(
                rule.location,
                f"{rule.where} port range",
                ports,
                "a range without 22 and 3389",
            )
            continue
        for port, name in _ADMIN_PORTS.items():
            if ports[0] <= port <= ports[1]:
                yield Violation(
                    rule.location,
                    f"{rule.where} admits {name} (ports {ports[0]}-{ports[1]})",
                    "no ingress on 22 or 3389",
                    f"{ports[0]}-{ports[1]}",
                )


@control(
    id="TF-SG-NO-OPEN-INGRESS",
    title="No security group admits traffic from the whole internet",
    clauses=("INV-2.1", "MIT-3", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Nothing of TENON is reachable from 0.0.0.0/0 or ::/0.",
    remedy="Admit only a referenced security group or a private CIDR.",
    subjects=environment_stacks,
)
def sg_no_open_ingress(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    for rule in ingress_rules(_stack_of(subject)):
        for source in rule.sources:
            if not source:
                continue
            values = source.value if isinstance(source.value, list) else [source.value]
            for value in values:
                if isinstance(value, Unknown):
                    yield unresolved(
                        source.location,
                        f"{rule.where} source",
                        value,
                        "a private source",
                    )
                elif value in _OPEN:
                    yield Violation(
                        source.location,
                        f"{rule.where} admits {value}",
                        "no 0.0.0.0/0 or ::/0 ingress",
                        str(value),
                    )


@control(
    id="TF-SUBNET-NO-PUBLIC-IP",
    title="No subnet gives instances a public IP address",
    clauses=("INV-2.1", "ACC-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Nodes and the database live in private subnets; a public IP is a "
    "path in from the internet.",
    remedy="Set map_public_ip_on_launch = false (NAT gateways use an Elastic IP).",
    subjects=resources("aws_subnet"),
)
def subnet_no_public_ip(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, subnet = _pair(subject)
    attribute = subnet.attr("map_public_ip_on_launch")
    # The provider's default is false, so an absent attribute is private.
    if attribute:
        yield from require(attribute, "map_public_ip_on_launch", "false", is_false)


@control(
    id="TF-VPC-FLOW-LOGS",
    title="Every VPC records flow logs of all traffic",
    clauses=("MIT-2", "TST-F1"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="Forensic audit of the infrastructure needs the network's record.",
    remedy='Add aws_flow_log with vpc_id = aws_vpc.<name>.id and traffic_type = "ALL".',
    subjects=resources("aws_vpc"),
)
def vpc_flow_logs(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, vpc = _pair(subject)
    logs = attached(stack, "aws_flow_log", vpc, "vpc_id")
    if not logs:
        yield Violation(
            vpc.location,
            f"{vpc.address} has no aws_flow_log",
            "a flow log of the VPC",
            "none",
        )
    for log in logs:
        yield from require(
            log.attr("traffic_type"),
            f"{log.address} traffic_type",
            '"ALL"',
            equals("ALL"),
        )


# --- Cluster ----------------------------------------------------------------

_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


@control(
    id="TF-EKS-PRIVATE-ENDPOINT",
    title="The Kubernetes API endpoint is private only",
    clauses=("INV-2.1", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="A public API endpoint is a door for human access to prod.",
    remedy="Set endpoint_private_access = true and endpoint_public_access = false.",
    subjects=resources("aws_eks_cluster"),
)
def eks_private_endpoint(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, cluster = _pair(subject)
    yield from require(
        cluster.attr("vpc_config", "endpoint_public_access"),
        "endpoint_public_access",
        "false",
        is_false,
    )
    yield from require(
        cluster.attr("vpc_config", "endpoint_private_access"),
        "endpoint_private_access",
        "true",
        is_true,
    )


@control(
    id="TF-EKS-AUTH-MODE-API",
    title="Cluster access is managed by access entries only",
    clauses=("ACC-2", "THR-3"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The aws-auth ConfigMap can be edited by hand; access entries are IaC.",
    remedy='Set access_config { authentication_mode = "API" } and '
    "bootstrap_cluster_creator_admin_permissions = false.",
    subjects=resources("aws_eks_cluster"),
)
def eks_auth_mode(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, cluster = _pair(subject)
    yield from require(
        cluster.attr("access_config", "authentication_mode"),
        "authentication_mode",
        '"API"',
        equals("API"),
    )
    yield from require(
        cluster.attr("access_config", "bootstrap_cluster_creator_admin_permissions"),
        "bootstrap_cluster_creator_admin_permissions",
        "false",
        is_false,
    )


@control(
    id="TF-EKS-CONTROL-PLANE-LOGS",
    title="Every control plane log type is enabled",
    clauses=("MIT-2", "TST-F1"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="The audit log is the record of who did what in the cluster.",
    remedy="Set enabled_cluster_log_types to " + ", ".join(_LOG_TYPES) + ".",
    subjects=resources("aws_eks_cluster"),
)
def eks_logs(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, cluster = _pair(subject)
    yield from require(
        cluster.attr("enabled_cluster_log_types"),
        "enabled_cluster_log_types",
        ", ".join(_LOG_TYPES),
        lambda value: isinstance(value, list) and set(_LOG_TYPES) <= set(value),
    )


@control(
    id="TF-EKS-SECRETS-ENCRYPTION",
    title="Kubernetes secrets are envelope-encrypted with a KMS key of the stack",
    clauses=("SEC-3", "THR-6"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="etcd holds the cluster's secrets; envelope encryption keeps them "
    "under our key.",
    remedy='Add encryption_config { resources = ["secrets"] provider { key_arn = '
    "aws_kms_key.<name>.arn } }.",
    subjects=resources("aws_eks_cluster"),
)
def eks_secrets_encryption(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, cluster = _pair(subject)
    yield from require(
        cluster.attr("encryption_config", "resources"),
        "encryption_config resources",
        '["secrets"]',
        lambda value: isinstance(value, list) and "secrets" in value,
    )
    yield from require(
        cluster.attr("encryption_config", "provider", "key_arn"),
        "encryption_config key_arn",
        "a KMS key of this stack",
        _kms_key(stack),
    )


def _launch_template(stack: Stack, group: ResourceInstance) -> ResourceInstance | None:
    return followed(stack, group.attr("launch_template", "id"), "aws_launch_template")


@control(
    id="TF-EKS-NODES-NO-REMOTE-ACCESS",
    title="Node groups have no remote access and no EC2 key pair",
    clauses=("INV-2.1", "MIT-3"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="An SSH key or a remote_access block opens SSH to the nodes.",
    remedy="Remove remote_access from the node group and key_name from its "
    "launch template.",
    subjects=resources("aws_eks_node_group"),
)
def nodes_no_remote_access(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, group = _pair(subject)
    for block in group.blocks_of("remote_access"):
        yield Violation(
            block.location,
            "the node group has a remote_access block",
            "no remote_access",
            "remote_access",
        )
    template = _launch_template(stack, group)
    key = template.attr("key_name") if template else None
    if key:
        yield Violation(
            key.location,
            f"{template.address} sets key_name",  # type: ignore[union-attr]
            "no key_name",
            "key_name",
        )


@control(
    id="TF-EKS-NODES-IMDSV2",
    title="Nodes require IMDSv2 with a hop limit of 1",
    clauses=("INV-2.1", "THR-3"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="With IMDSv1 or two hops, any pod can take the node role's credentials.",
    remedy='Use a launch template with metadata_options { http_tokens = "required" '
    "http_put_response_hop_limit = 1 }.",
    subjects=resources("aws_eks_node_group"),
)
def nodes_imdsv2(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, group = _pair(subject)
    template = _launch_template(stack, group)
    if template is None:
        yield Violation(
            group.location,
            "the node group has no launch template of this stack",
            "a launch template with IMDSv2",
            "none",
        )
        return
    yield from require(
        template.attr("metadata_options", "http_tokens"),
        "http_tokens",
        '"required"',
        equals("required"),
    )
    yield from require(
        template.attr("metadata_options", "http_put_response_hop_limit"),
        "http_put_response_hop_limit",
        "1",
        equals(1),
    )


@control(
    id="TF-EKS-NODES-BOTTLEROCKET",
    title="Nodes run Bottlerocket with the admin and control containers disabled",
    clauses=("INV-2.1", "THR-3", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Bottlerocket has no SSH server; its admin container is the SSH path "
    "and its control container the SSM path, so both stay off.",
    remedy='Set ami_type = "BOTTLEROCKET_x86_64" and user_data settings '
    "host-containers.admin.enabled = false and "
    "host-containers.control.enabled = false.",
    subjects=resources("aws_eks_node_group"),
)
def nodes_bottlerocket(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, group = _pair(subject)
    yield from require(
        group.attr("ami_type"),
        "ami_type",
        "BOTTLEROCKET_*",
        lambda value: isinstance(value, str) and value.startswith("BOTTLEROCKET"),
    )
    template = _launch_template(stack, group)
    if template is None:
        yield Violation(
            group.location,
            "no launch template sets the host containers",
            "admin and control disabled",
            "defaults",
        )
        return
    user_data = template.attr("user_data")
    settings = _bottlerocket_settings(user_data)
    if isinstance(settings, Violation):
        yield settings
        return
    containers = settings.get("settings", {}).get("host-containers", {})
    for name in ("admin", "control"):
        enabled = containers.get(name, {}).get("enabled")
        if enabled is not False:
            yield Violation(
                user_data.location,
                f"host-containers.{name}.enabled is {show(enabled)}",
                "false",
                show(enabled),
            )


def _bottlerocket_settings(user_data: Attr | Missing) -> dict[str, Any] | Violation:
    expected = "base64 TOML with both host containers disabled"
    if not user_data:
        return Violation(
            user_data.location,
            "the launch template has no user_data",
            expected,
            "not set",
        )
    if isinstance(user_data.value, Unknown):
        return unresolved(user_data.location, "user_data", user_data.value, expected)
    try:
        decoded = base64.b64decode(str(user_data.value), validate=True).decode()
        return tomllib.loads(decoded)
    except (
        binascii.Error,
        UnicodeDecodeError,
        tomllib.TOMLDecodeError,
        ValueError,
    ) as e:
        return Violation(
            user_data.location,
            f"user_data is not base64 TOML: {e}",
            expected,
            "unreadable",
        )


@control(
    id="TF-EKS-NODE-ROLE-NO-SSM",
    title="The node role cannot register nodes with Systems Manager",
    clauses=("INV-2.1", "THR-3"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="AmazonSSMManagedInstanceCore opens SSM sessions, a shell on the node.",
    remedy="Detach AmazonSSMManagedInstanceCore from the node role.",
    subjects=resources("aws_eks_node_group"),
)
def node_role_no_ssm(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, group = _pair(subject)
    role = followed(stack, group.attr("node_role_arn"), "aws_iam_role")
    if role is None:
        yield Violation(
            group.attr("node_role_arn").location
            if group.attr("node_role_arn")
            else group.location,
            "node_role_arn is not a role of this stack",
            "aws_iam_role.<name>.arn",
            "other",
        )
        return
    policies = [
        a.attr("policy_arn")
        for a in attached(stack, "aws_iam_role_policy_attachment", role, "role")
    ]
    managed = role.attr("managed_policy_arns")
    if managed and isinstance(managed.value, list):
        policies += [
            Attr("managed_policy_arns", v, managed.location) for v in managed.value
        ]
    for policy in policies:
        value = policy.value
        if isinstance(value, Unknown):
            yield unresolved(policy.location, "policy_arn", value, "not SSM")
        elif "AmazonSSMManagedInstanceCore" in (text(value) or ""):
            yield Violation(
                policy.location,
                "the node role has AmazonSSMManagedInstanceCore",
                "no SSM policy",
                "AmazonSSMManagedInstanceCore",
            )


@control(
    id="TF-EKS-NO-HUMAN-ACCESS",
    title="Only roles of the stack that no person can assume have cluster access",
    clauses=("ACC-2", "THR-3"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="No human access to prod: access entries go to workload roles only.",
    remedy="Remove access entries for users, accounts or roles people can assume.",
    subjects=resources("aws_eks_cluster"),
)
def eks_no_human_access(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, cluster = _pair(subject)
    for entry in stack.resources_of("aws_eks_access_entry"):
        target = _entry_cluster(entry, cluster)
        if isinstance(target, Unknown):
            where = entry.attr("cluster_name").location
            yield unresolved(where, f"{entry.address} cluster_name", target, "known")
        elif target:
            yield from _entry_principal(stack, entry)


def _entry_cluster(entry: ResourceInstance, cluster: ResourceInstance) -> Any:
    """True when the access entry is for this cluster (by reference or by name)."""
    value = entry.value("cluster_name")
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Reference):
        return value.target == cluster.address
    return value == cluster.value("name")


def _entry_principal(stack: Stack, entry: ResourceInstance) -> Iterator[Violation]:
    principal = entry.attr("principal_arn")
    role = followed(stack, principal, "aws_iam_role")
    if role is None:
        found = show(principal.value) if principal else "not set"
        yield Violation(
            principal.location,
            f"{entry.address} principal_arn is not a role of this stack",
            "aws_iam_role.<name>.arn",
            found,
        )
        return
    trust = statements(stack, role.attr("assume_role_policy"))
    if isinstance(trust, Unknown):
        yield unresolved(role.location, "the role's trust policy", trust, "no human")
        return
    for statement in trust:
        for kind, _ in statement.principals:
            if kind in {"AWS", "*"}:
                yield Violation(
                    statement.location,
                    f"{role.address} can be assumed by an AWS principal",
                    "a Service or Federated (CI) principal",
                    str(kind),
                )


# --- Database ---------------------------------------------------------------


@control(
    id="TF-RDS-ENCRYPTED-PRIVATE",
    title="The database is encrypted with a KMS key of the stack and not public",
    clauses=("THR-6", "ACC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Data at rest is under our key and the database has no public address.",
    remedy="Set storage_encrypted = true, kms_key_id = aws_kms_key.<name>.arn and "
    "publicly_accessible = false.",
    subjects=resources("aws_db_instance"),
)
def rds_encrypted_private(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, db = _pair(subject)
    yield from require(
        db.attr("storage_encrypted"), "storage_encrypted", "true", is_true
    )
    yield from require(
        db.attr("kms_key_id"), "kms_key_id", "a KMS key of this stack", _kms_key(stack)
    )
    yield from require(
        db.attr("publicly_accessible"), "publicly_accessible", "false", is_false
    )


@control(
    id="TF-RDS-TLS-IAM-AUTH",
    title="The database forces TLS and offers IAM authentication",
    clauses=("SEC-3", "THR-6"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Credentials and data never cross the network in clear text.",
    remedy="Set iam_database_authentication_enabled = true and a parameter group "
    'with rds.force_ssl = "1".',
    subjects=resources("aws_db_instance"),
)
def rds_tls_iam(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, db = _pair(subject)
    yield from require(
        db.attr("iam_database_authentication_enabled"),
        "iam_database_authentication_enabled",
        "true",
        is_true,
    )
    group_attr = db.attr("parameter_group_name")
    group = followed(stack, group_attr, "aws_db_parameter_group")
    if group is None:
        yield Violation(
            group_attr.location,
            "parameter_group_name is not a parameter group of this stack",
            "aws_db_parameter_group.<name>.name",
            show(group_attr.value),
        )
        return
    forced = [
        p for p in group.blocks_of("parameter") if p.value("name") == "rds.force_ssl"
    ]
    if not forced:
        yield Violation(
            group.location,
            f"{group.address} does not set rds.force_ssl",
            '"1"',
            "not set",
        )
    for parameter in forced:
        yield from require(
            parameter.attr("value"),
            "rds.force_ssl",
            '"1"',
            lambda value: str(value) in ("1", "true"),
        )


@control(
    id="TF-RDS-BACKUPS-PROTECTED",
    title="The database keeps 7+ days of backups and cannot be deleted by accident",
    clauses=("TST-S2", "THR-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Rollback of data needs backups; deletion protection stops a bad plan.",
    remedy="Set backup_retention_period >= 7 and deletion_protection = true.",
    subjects=resources("aws_db_instance"),
)
def rds_backups(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, db = _pair(subject)
    yield from require(
        db.attr("backup_retention_period"),
        "backup_retention_period",
        ">= 7",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 7,
    )
    yield from require(
        db.attr("deletion_protection"), "deletion_protection", "true", is_true
    )


@control(
    id="TF-RDS-MANAGED-PASSWORD",
    title="The database master password is generated and kept by AWS",
    clauses=("SEC-1", "SEC-3", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="A password in Terraform is a password in the state and in Git.",
    remedy="Set manage_master_user_password = true and remove password.",
    subjects=resources("aws_db_instance"),
)
def rds_managed_password(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, db = _pair(subject)
    yield from require(
        db.attr("manage_master_user_password"),
        "manage_master_user_password",
        "true",
        is_true,
    )
    password = db.attr("password")
    if password:
        yield _secret_violation(password.location, f"{db.address} sets password")


# --- Object storage ---------------------------------------------------------


def _one_attached(
    stack: Stack, bucket: ResourceInstance, kind: str
) -> ResourceInstance | Violation:
    found = attached(stack, kind, bucket)
    if len(found) != 1:
        return Violation(
            bucket.location,
            f"{bucket.address} has {len(found)} {kind}",
            f"one {kind}",
            str(len(found)),
        )
    return found[0]


def _public_access_block(stack: Stack, bucket: ResourceInstance) -> Iterator[Violation]:
    block = _one_attached(stack, bucket, "aws_s3_bucket_public_access_block")
    if isinstance(block, Violation):
        yield block
        return
    for name in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        yield from require(block.attr(name), name, "true", is_true)


def _log_target(stack: Stack, bucket: ResourceInstance) -> bool:
    """True when S3 server access logs are delivered into this bucket."""
    return bool(stack.referencing("aws_s3_bucket_logging", "target_bucket", bucket))


def _sse_kms(stack: Stack, bucket: ResourceInstance) -> Iterator[Violation]:
    config = _one_attached(
        stack, bucket, "aws_s3_bucket_server_side_encryption_configuration"
    )
    if isinstance(config, Violation):
        yield config
        return
    path = ("rule", "apply_server_side_encryption_by_default")
    if _log_target(stack, bucket):
        # S3 delivers server access logs only into buckets encrypted with
        # SSE-S3, so a log target bucket may use AES256 (AWS documents this).
        yield from require(
            config.attr(*path, "sse_algorithm"),
            "sse_algorithm",
            '"AES256" or "aws:kms" (access log target)',
            lambda v: v in ("AES256", "aws:kms"),
        )
        return
    yield from require(
        config.attr(*path, "sse_algorithm"),
        "sse_algorithm",
        '"aws:kms"',
        lambda v: v in ("aws:kms", "aws:kms:dsse"),
    )
    yield from require(
        config.attr(*path, "kms_master_key_id"),
        "kms_master_key_id",
        "a KMS key of this stack",
        _kms_key(stack),
    )


def _versioning(stack: Stack, bucket: ResourceInstance) -> Iterator[Violation]:
    versioning = _one_attached(stack, bucket, "aws_s3_bucket_versioning")
    if isinstance(versioning, Violation):
        yield versioning
        return
    yield from require(
        versioning.attr("versioning_configuration", "status"),
        "versioning status",
        '"Enabled"',
        equals("Enabled"),
    )


@control(
    id="TF-S3-NOT-PUBLIC",
    title="Every bucket blocks public access in all four ways",
    clauses=("ACC-2", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="The runtime's objects are never public.",
    remedy="Add aws_s3_bucket_public_access_block with all four settings true.",
    subjects=resources("aws_s3_bucket"),
)
def s3_not_public(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    yield from _public_access_block(*_pair(subject))


@control(
    id="TF-S3-SSE-KMS",
    title="Every bucket encrypts with a KMS key of the stack",
    clauses=("THR-6",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Objects at rest are under our key, with access to it audited.",
    remedy="Add aws_s3_bucket_server_side_encryption_configuration with sse_algorithm "
    '"aws:kms" and kms_master_key_id = aws_kms_key.<name>.arn.',
    subjects=resources("aws_s3_bucket"),
)
def s3_sse_kms(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    yield from _sse_kms(*_pair(subject))


@control(
    id="TF-S3-VERSIONING",
    title="Every bucket keeps versions",
    clauses=("TST-S2", "THR-5"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="An overwritten or deleted object can be restored.",
    remedy='Add aws_s3_bucket_versioning with status = "Enabled".',
    subjects=resources("aws_s3_bucket"),
)
def s3_versioning(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    yield from _versioning(*_pair(subject))


@control(
    id="TF-S3-TLS-ONLY",
    title="Every bucket policy denies requests without TLS",
    clauses=("THR-6",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Objects never cross the network in clear text.",
    remedy='Add a Deny statement with condition Bool aws:SecureTransport = "false".',
    subjects=resources("aws_s3_bucket"),
)
def s3_tls_only(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, bucket = _pair(subject)
    policy = _one_attached(stack, bucket, "aws_s3_bucket_policy")
    if isinstance(policy, Violation):
        yield policy
        return
    found = statements(stack, policy.attr("policy"))
    if isinstance(found, Unknown):
        yield unresolved(policy.location, "the bucket policy", found, "a TLS-only deny")
        return
    if not any(_denies_plain_http(statement) for statement in found):
        yield Violation(
            policy.location,
            f"{policy.address} does not deny non-TLS requests",
            "Deny when aws:SecureTransport is false",
            "no such statement",
        )


def _denies_plain_http(statement: Statement) -> bool:
    return statement.effect == "Deny" and any(
        condition.test == "Bool"
        and condition.variable == "aws:SecureTransport"
        and [str(v).lower() for v in condition.values] == ["false"]
        for condition in statement.conditions
    )


@control(
    id="TF-S3-ACCESS-LOGGING",
    title="Every bucket logs access, except the log bucket itself",
    clauses=("MIT-2", "TST-F1"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="Who read or wrote an object is forensic evidence.",
    remedy="Add aws_s3_bucket_logging with a target bucket of this stack.",
    subjects=resources("aws_s3_bucket"),
)
def s3_access_logging(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, bucket = _pair(subject)
    if _log_target(stack, bucket):
        return  # the log bucket does not log into itself
    logging = _one_attached(stack, bucket, "aws_s3_bucket_logging")
    if isinstance(logging, Violation):
        yield logging
        return
    yield from require(
        logging.attr("target_bucket"),
        "target_bucket",
        "a bucket of this stack",
        lambda v: points_at(stack, v, "aws_s3_bucket"),
    )


# --- Identity ---------------------------------------------------------------

_NAMESPACE, _SERVICE_ACCOUNT = "tenon", "runtime-api"


def _runtime_associations(stack: Stack) -> list[ResourceInstance]:
    return [
        a
        for a in stack.resources_of("aws_eks_pod_identity_association")
        if a.value("namespace") == _NAMESPACE
        and a.value("service_account") == _SERVICE_ACCOUNT
    ]


@control(
    id="TF-IAM-RUNTIME-POD-IDENTITY",
    title="The runtime's role is bound to namespace tenon, service account runtime-api",
    clauses=("SEC-3", "ACC-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The runtime gets AWS access from EKS Pod Identity, never a static key.",
    remedy="Add aws_eks_pod_identity_association for tenon/runtime-api with role_arn "
    "of a role trusting pods.eks.amazonaws.com.",
    subjects=environment_stacks,
)
def runtime_pod_identity(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    associations = _runtime_associations(stack)
    if len(associations) != 1:
        yield Violation(
            stack.location,
            f"{len(associations)} Pod Identity associations "
            f"for {_NAMESPACE}/{_SERVICE_ACCOUNT}",
            "exactly one",
            str(len(associations)),
        )
        return
    association = associations[0]
    role = followed(stack, association.attr("role_arn"), "aws_iam_role")
    if role is None:
        yield Violation(
            association.location,
            "role_arn is not a role of this stack",
            "aws_iam_role.<name>.arn",
            show(association.value("role_arn")),
        )
        return
    trust = statements(stack, role.attr("assume_role_policy"))
    if isinstance(trust, Unknown):
        yield unresolved(role.location, "the runtime role's trust", trust, "pods.eks")
    elif not any(
        (k, tuple(ids)) == ("Service", ("pods.eks.amazonaws.com",))
        for s in trust
        for k, ids in s.principals
    ):
        yield Violation(
            role.location,
            f"{role.address} does not trust only pods.eks.amazonaws.com",
            "Service pods.eks.amazonaws.com",
            "other principals",
        )


def _role_policies(
    stack: Stack, role: ResourceInstance
) -> list[tuple[str, Attr | Missing]]:
    found = [
        (p.address, p.attr("policy"))
        for p in attached(stack, "aws_iam_role_policy", role, "role")
    ]
    for attachment in attached(stack, "aws_iam_role_policy_attachment", role, "role"):
        policy = followed(stack, attachment.attr("policy_arn"), "aws_iam_policy")
        if policy is not None:
            found.append((policy.address, policy.attr("policy")))
        else:
            found.append(
                (
                    attachment.address,
                    Missing("a policy of this stack", attachment.location),
                )
            )
    return found


@control(
    id="TF-IAM-NO-WILDCARD",
    title="No IAM policy allows every action or every resource",
    clauses=("SEC-3", "ACC-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Least privilege: a wildcard grants what nobody reviewed.",
    remedy="Name the actions and the resource ARNs.",
    subjects=resources("aws_iam_role_policy", "aws_iam_policy"),
)
def iam_no_wildcard(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, policy = _pair(subject)
    found = statements(stack, policy.attr("policy"))
    if isinstance(found, Unknown):
        yield unresolved(policy.location, "the policy", found, "named actions")
        return
    for statement in found:
        if statement.effect != "Allow":
            continue
        if statement.not_actions or statement.not_resources:
            yield Violation(
                statement.location,
                "an Allow uses NotAction/NotResource",
                "named actions and resources",
                "a negation",
            )
        yield from _wildcards(statement, "action", statement.actions, _wild_action)
        yield from _wildcards(
            statement, "resource", statement.resources, _wild_resource
        )


def _wild_action(value: str) -> bool:
    return value == "*" or value.endswith(":*")


def _wild_resource(value: str) -> bool:
    return value == "*"


def _wildcards(
    statement: Statement, what: str, values: Iterable[Any], wild: Predicate
) -> Iterator[Violation]:
    for value in values:
        if isinstance(value, Unknown):
            yield unresolved(statement.location, what, value, f"named {what}s")
        elif text(value) is None or wild(text(value)):
            yield Violation(
                statement.location,
                f"allows {what} {show(value)}",
                f"named {what}s",
                show(value),
            )


@control(
    id="TF-IAM-RUNTIME-SCOPE",
    title="The runtime reaches only its own bucket prefix and its own secrets",
    clauses=("SEC-3", "ACC-2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The runtime of one environment can touch nothing of another.",
    remedy="Limit s3:* statements to arn:aws:s3:::tenon-<env>-runtime-objects "
    "(or its runtime-api/ prefix) "
    "and secretsmanager:* to tenon/<env>/runtime-api/ secrets.",
    subjects=environment_stacks,
)
def runtime_scope(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    associations = _runtime_associations(stack)
    roles = [followed(stack, a.attr("role_arn"), "aws_iam_role") for a in associations]
    if not roles or None in roles:
        yield Violation(
            stack.location,
            "no runtime role to check",
            "the Pod Identity role of tenon/runtime-api",
            "none",
        )
        return
    for role in roles:
        for address, attribute in _role_policies(stack, role):  # type: ignore[arg-type]
            found = statements(stack, attribute)
            if isinstance(found, Unknown):
                yield unresolved(
                    attribute.location, f"{address}", found, "scoped policy"
                )
                continue
            for statement in found:
                if statement.effect == "Allow":
                    yield from _runtime_statement(stack, statement)


def _runtime_statement(stack: Stack, statement: Statement) -> Iterator[Violation]:
    services = {str(text(a)).split(":", 1)[0] for a in statement.actions}
    bucket = f"tenon-{stack.name}-runtime-objects"
    for resource in statement.resources:
        if "s3" in services and not _own_bucket(stack, resource, bucket):
            yield Violation(
                statement.location,
                f"s3 access to {show(resource)}",
                f"arn:aws:s3:::{bucket} or its runtime-api/ prefix",
                show(resource),
            )
        if "secretsmanager" in services and not _own_secret(stack, resource):
            yield Violation(
                statement.location,
                f"secrets access to {show(resource)}",
                f"secrets named tenon/{stack.name}/runtime-api/...",
                show(resource),
            )


def _normalised_arn(stack: Stack, value: Any) -> str | None:
    """The ARN text with stack references replaced by what they resolve to."""
    rendered = text(value)
    if rendered is None:
        return None
    for reference in _references(value):
        literal = _resolved_reference(stack, reference)
        if literal is None:
            return None
        rendered = rendered.replace(f"${{{reference}}}", literal)
    return rendered


def _references(value: Any) -> tuple[Reference, ...]:
    if isinstance(value, Reference):
        return (value,)
    if isinstance(value, Symbolic):
        return value.references
    return ()


def _resolved_reference(stack: Stack, reference: Reference) -> str | None:
    if reference.resource.startswith("data.aws_partition."):
        return "aws"
    targets = stack.referenced(reference)
    if len(targets) != 1:
        return None
    target = targets[0]
    if target.type == "aws_s3_bucket" and reference.attribute == "arn":
        name = target.value("bucket")
        return f"arn:aws:s3:::{name}" if isinstance(name, str) else None
    if target.type == "aws_secretsmanager_secret" and reference.attribute in (
        "arn",
        "id",
    ):
        name = target.value("name")
        return (
            f"arn:aws:secretsmanager:::secret:{name}" if isinstance(name, str) else None
        )
    return None


def _own_bucket(stack: Stack, resource: Any, bucket: str) -> bool:
    arn = _normalised_arn(stack, resource)
    base = f"arn:aws:s3:::{bucket}"
    return arn == base or (arn or "").startswith(f"{base}/runtime-api/")


def _own_secret(stack: Stack, resource: Any) -> bool:
    arn = _normalised_arn(stack, resource)
    return f":secret:tenon/{stack.name}/runtime-api/" in (arn or "") and "*" not in (
        (arn or "").split(":secret:", 1)[-1].rstrip("*")
    )


_CI_SUBJECT = "project_path:tenon/runtime:ref_type:branch:ref:main"


@control(
    id="TF-IAM-CI-TRUST-MAIN",
    title="Roles assumable from GitLab CI trust only the main branch of tenon/runtime",
    clauses=("FLOW-1", "INV-2.2", "THR-4"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Only an approved commit on main may deploy; a branch or a fork may not.",
    remedy=f'Condition StringEquals "gitlab.com:sub" = "{_CI_SUBJECT}".',
    subjects=environment_stacks,
)
def ci_trust_main(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack = _stack_of(subject)
    federated = 0
    for role in stack.resources_of("aws_iam_role"):
        trust = statements(stack, role.attr("assume_role_policy"))
        if isinstance(trust, Unknown):
            yield unresolved(
                role.location, f"{role.address} trust", trust, "known trust"
            )
            continue
        for statement in trust:
            if any(kind == "Federated" for kind, _ in statement.principals):
                federated += 1
                yield from _ci_statement(role, statement)
    if federated == 0:
        yield Violation(
            stack.location,
            "no role trusts GitLab CI",
            "a CI deploy role restricted to main",
            "none",
        )


def _ci_statement(role: ResourceInstance, statement: Statement) -> Iterator[Violation]:
    subjects = [c for c in statement.conditions if str(c.variable).endswith(":sub")]
    exact = [
        c
        for c in subjects
        if c.test == "StringEquals" and list(c.values) == [_CI_SUBJECT]
    ]
    if not exact or len(subjects) != len(exact):
        found = (
            "; ".join(f"{c.test} {show(list(c.values))}" for c in subjects) or "none"
        )
        yield Violation(
            statement.location,
            f"{role.address} trusts GitLab CI beyond main of tenon/runtime",
            f'StringEquals sub = "{_CI_SUBJECT}"',
            found,
        )


# --- Secrets and keys -------------------------------------------------------


@control(
    id="TF-SECRETS-CMK",
    title="Secrets Manager secrets are encrypted with a KMS key of the stack",
    clauses=("SEC-3", "THR-6"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Our key, our key policy, our audit trail of every decryption.",
    remedy="Set kms_key_id = aws_kms_key.<name>.arn.",
    subjects=resources("aws_secretsmanager_secret"),
)
def secrets_cmk(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    stack, secret = _pair(subject)
    yield from require(
        secret.attr("kms_key_id"),
        "kms_key_id",
        "a KMS key of this stack",
        _kms_key(stack),
    )


def every_kms_key(evidence: Evidence) -> list[Subject]:
    """Every aws_kms_key of every stack, the bootstrap stack included."""
    return [
        Subject(f"{stack.name}:{key.address}", key.location, (stack, key))
        for stack in model(evidence).stacks
        for key in stack.resources_of("aws_kms_key")
    ]


@control(
    id="TF-KMS-ROTATION",
    title="Every KMS key rotates",
    clauses=("THR-6",),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="A rotated key limits what one leaked key version can decrypt.",
    remedy="Set enable_key_rotation = true.",
    subjects=every_kms_key,
)
def kms_rotation(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    _, key = _pair(subject)
    yield from require(
        key.attr("enable_key_rotation"), "enable_key_rotation", "true", is_true
    )
