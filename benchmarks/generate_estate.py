"""Generate a TENON estate of a chosen size, for benchmarks of the compliance suite.

The estate is a checkout in this repository's layout, built from the real files
of the repository at generation time and multiplied by *services*. Each extra
service ``svc-NNNN`` follows exactly the patterns of runtime-api:

- Kubernetes: in ``k8s/base/services/<svc>/`` its Deployment, Service,
  ServiceAccount, PodDisruptionBudget and NetworkPolicies (the runtime-api
  documents of ``k8s/base``, renamed); in every overlay its ConfigMap and
  SecretProviderClass (the overlay's own files, renamed) and its ``images:``,
  ``replicas:`` and ``patches:`` entries (the runtime-api entries, renamed);
- Terraform: in every environment stack, ``services.tf`` calls the identity
  module for it (the stack's ``module "identity"`` block, renamed); the file is
  the same in dev, stage and prod, as the stacks must run the same code;
- Docker: ``docker/<svc>/Dockerfile``, docker/Dockerfile with its own title.

What counts as an object (printed at the end, and written to ``estate.json``):

- Kubernetes: every object kustomize renders from the overlays (all three);
- Terraform: every ``resource`` and ``data`` block of every stack, counted once
  per module call that reaches it (``count``/``for_each`` not expanded);
- Docker: every Dockerfile.

``--violations K`` seeds K known violations of the kinds in ``KINDS``, one
service each; ``estate.json`` lists each with its file and the control cases
(control id and subject) it must fail. Usage::

    python benchmarks/generate_estate.py --objects 2000 --out /tmp/estate \\
        [--violations 5] [--seed 1]

The smallest estate is the real repository plus one service.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "stage", "prod")
RUNTIME = "runtime-api"
IMAGE = "registry.gitlab.com/tenon/runtime/runtime-api"
MANIFEST = "estate.json"
# Not part of a deployment checkout: the suite's own tests and tooling output.
_EXCLUDED_TOP = frozenset({"tests", "benchmarks", "reports", ".benchmarks"})


class EstateError(Exception):
    """The estate cannot be generated as asked; the message says why."""


# --- the real repository ----------------------------------------------------


def repository_files(root: Path) -> list[str]:
    """The files git tracks or would track in root's working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(
        name
        for name in listed.split("\0")
        if name and (root / name).is_file() and name.split("/")[0] not in _EXCLUDED_TOP
    )


def copy_repository(source: Path, out: Path) -> None:
    """Copy the deployment files of source into out (which must not exist)."""
    if out.exists():
        raise EstateError(f"{out}: already exists; choose an empty path")
    for name in repository_files(source):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)


def yaml_documents(text: str) -> list[str]:
    """The documents of a YAML stream as text, each with its leading comments."""
    return [part for part in re.split(r"(?m)^---[ \t]*\n", text) if part.strip()]


# --- YAML output with block scalars ------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (kustomize patches) as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump_yaml(data: Any) -> str:
    """YAML text of data, keys in their given order, patches as blocks."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100)


def renamed(value: Any, service: str) -> Any:
    """value with every runtime-api (names, image, secret paths) renamed."""
    if isinstance(value, str):
        return value.replace(RUNTIME, service)
    if isinstance(value, list):
        return [renamed(item, service) for item in value]
    if isinstance(value, dict):
        return {key: renamed(item, service) for key, item in value.items()}
    return value


# --- services ---------------------------------------------------------------


def service_names(count: int) -> list[str]:
    """svc-0001, svc-0002, ... (a fixed width keeps names sortable)."""
    return [f"svc-{index:04d}" for index in range(1, count + 1)]


def service_digest(service: str) -> str:
    """A stable, realistic image digest per service (the same in every overlay)."""
    return "sha256:" + hashlib.sha256(f"tenon/{service}".encode()).hexdigest()


def write_base_service(out: Path, service: str) -> list[str]:
    """The service's base documents, renamed from runtime-api's; their paths."""
    base = out / "k8s/base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    written = []
    for resource in kustomization["resources"]:
        source = base / resource
        if not source.is_file():
            continue
        documents = [
            document.replace(RUNTIME, service)
            for document in yaml_documents(source.read_text())
            if re.search(rf"(?m)^  name: {RUNTIME}\b", document)
        ]
        if not documents:
            continue
        relative = f"services/{service}/{resource}"
        target = base / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("---\n".join(documents))
        written.append(relative)
    return written


def write_overlay_service(out: Path, env: str, service: str) -> list[str]:
    """The service's overlay files (ConfigMap, SecretProviderClass); their paths."""
    overlay = out / "k8s/overlays" / env
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    written = []
    for resource in kustomization["resources"]:
        source = overlay / resource
        if not source.is_file() or RUNTIME not in source.read_text():
            continue
        relative = f"services/{service}/{resource}"
        target = overlay / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text().replace(RUNTIME, service))
        written.append(relative)
    return written


def service_entries(entries: list[Any], service: str) -> list[Any]:
    """The runtime-api entries of a kustomization list, renamed for service."""
    return [renamed(entry, service) for entry in entries if RUNTIME in str(entry)]


def expand_kustomizations(out: Path, services: list[str]) -> None:
    """Write every service into k8s/base and each overlay's kustomization."""
    base_file = out / "k8s/base/kustomization.yaml"
    base = yaml.safe_load(base_file.read_text())
    for service in services:
        base["resources"].extend(write_base_service(out, service))
    base_file.write_text(_generated_header(base_file) + dump_yaml(base))

    for env in ENVIRONMENTS:
        path = out / "k8s/overlays" / env / "kustomization.yaml"
        overlay = yaml.safe_load(path.read_text())
        for service in services:
            overlay["resources"].extend(write_overlay_service(out, env, service))
            for key in ("images", "replicas", "patches"):
                overlay.setdefault(key, [])
                overlay[key].extend(service_entries(overlay[key], service))
            for image in overlay["images"]:
                if image["name"].endswith("/" + service):
                    image["digest"] = service_digest(service)
        path.write_text(_generated_header(path) + dump_yaml(overlay))


def _generated_header(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return f"{first}\n# Generated estate: the real file with one entry per service.\n"


def _module_block(text: str, name: str) -> str:
    match = re.search(rf'(?ms)^module "{name}" \{{\n.*?^\}}\n', text)
    if match is None:
        raise EstateError(f'no module "{name}" block to template from')
    return match.group(0)


def terraform_services(out: Path, services: list[str]) -> str:
    """services.tf: one identity module call per service, as runtime-api's."""
    main = (out / "infra/terraform/envs/prod/main.tf").read_text()
    template = _module_block(main, "identity")
    blocks = [
        "# Generated estate: the identity of every service, as runtime-api's in\n"
        "# main.tf. The same file in every environment stack.\n"
    ]
    for service in services:
        label = service.replace("-", "_")
        block = template.replace('module "identity"', f'module "identity_{label}"')
        block = block.replace(f'"{RUNTIME}/"', f'"{service}/"')
        block = block.replace(f'"{RUNTIME}"', f'"{service}"')
        block = re.sub(
            r"(?m)^(\s*name\s*=\s*)local\.name$",
            lambda m, s=service: f'{m.group(1)}"${{local.name}}-{s}"',
            block,
        )
        blocks.append(block)
    return "\n".join(blocks)


def write_terraform(out: Path, services: list[str]) -> None:
    text = terraform_services(out, services)
    for env in ENVIRONMENTS:
        (out / "infra/terraform/envs" / env / "services.tf").write_text(text)


def write_dockerfiles(out: Path, services: list[str]) -> None:
    """docker/<svc>/Dockerfile: docker/Dockerfile with the service's own title."""
    template = (out / "docker/Dockerfile").read_text()
    for service in services:
        target = out / "docker" / service / "Dockerfile"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.replace(f"tenon-{RUNTIME}", f"tenon-{service}"))


# --- seeded violations -------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A finding a seeded violation must produce: control, subject and file."""

    control: str
    subject: str
    file: str


@dataclass
class Seeded:
    """One seeded violation: its kind, its service and the findings it causes."""

    kind: str
    service: str
    findings: list[Expected] = field(default_factory=list)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise EstateError(f"{path}: no {old!r} to seed a violation into")
    path.write_text(text.replace(old, new, 1))


def seed_replicas_one(out: Path, service: str) -> Seeded:
    """stage runs the service with one replica (ORC-2 wants two)."""
    file = "k8s/overlays/stage/kustomization.yaml"
    _edit(
        out / file, f"- name: {service}\n  count: 2", f"- name: {service}\n  count: 1"
    )
    expected = Expected("K8S-REPLICAS", f"stage:Deployment/{service}", file)
    return Seeded("replicas-one", service, [expected])


def seed_image_tag(out: Path, service: str) -> Seeded:
    """Every overlay runs the service's image by tag, not digest (INV-1.2).

    All three overlays, so the environments still agree (no drift finding).
    """
    name = IMAGE.replace(RUNTIME, service)
    findings = []
    for env in ENVIRONMENTS:
        file = f"k8s/overlays/{env}/kustomization.yaml"
        _edit(
            out / file,
            f"- name: {name}\n  digest: {service_digest(service)}",
            f"- name: {name}\n  newTag: 1.4.2",
        )
        findings.append(
            Expected("K8S-IMAGE-DIGEST", f"{env}:Deployment/{service}", file)
        )
    return Seeded("image-tag", service, findings)


def seed_privileged(out: Path, service: str) -> Seeded:
    """The service's container is privileged (in the base: every overlay)."""
    file = f"k8s/base/services/{service}/deployment.yaml"
    _edit(out / file, "privileged: false", "privileged: true")
    findings = [
        Expected("K8S-CONTAINER-SECURITY-CONTEXT", f"{env}:Deployment/{service}", file)
        for env in ENVIRONMENTS
    ]
    return Seeded("privileged", service, findings)


def seed_secret_env(out: Path, service: str) -> Seeded:
    """The service's runtime stage sets a password in ENV (INV-3.2)."""
    file = f"docker/{service}/Dockerfile"
    value = secrets.token_hex(16)  # a fresh random value, never a real one
    _edit(
        out / file,
        "    PYTHONUNBUFFERED=1\n",
        f"    PYTHONUNBUFFERED=1\nENV DATABASE_PASSWORD={value}\n",
    )
    expected = Expected("DOCKER-NO-BUILD-SECRETS", f"{file}:runtime", file)
    return Seeded("secret-env", service, [expected])


def seed_ssh_open(out: Path, service: str) -> Seeded:
    """SSH open to the world on the nodes, next to the service's identity.

    Written into services.tf of every stack, as the stacks must run the same
    code: one finding per stack for the port and one for the open range.
    """
    label = service.replace("-", "_")
    rule = (
        f'\nresource "aws_vpc_security_group_ingress_rule" "ssh_{label}" {{\n'
        f"  security_group_id = module.cluster.node_security_group_id\n"
        f'  description       = "SSH to the nodes for {service}"\n'
        f'  cidr_ipv4         = "0.0.0.0/0"\n'
        f'  ip_protocol       = "tcp"\n'
        f"  from_port         = 22\n"
        f"  to_port           = 22\n"
        f"}}\n"
    )
    findings = []
    for env in ENVIRONMENTS:
        file = f"infra/terraform/envs/{env}/services.tf"
        path = out / file
        path.write_text(path.read_text() + rule)
        findings += [
            Expected(control, f"stack:{env}", file)
            for control in ("TF-SG-NO-ADMIN-PORTS", "TF-SG-NO-OPEN-INGRESS")
        ]
    return Seeded("ssh-open", service, findings)


KINDS: dict[str, Callable[[Path, str], Seeded]] = {
    "replicas-one": seed_replicas_one,
    "image-tag": seed_image_tag,
    "privileged": seed_privileged,
    "secret-env": seed_secret_env,
    "ssh-open": seed_ssh_open,
}


def seed(
    out: Path, services: list[str], count: int, rng: random.Random
) -> list[Seeded]:
    """Seed count violations, kinds in turn, each on its own service if possible.

    With fewer services than violations, a service carries several kinds (never
    the same kind twice).
    """
    kinds = list(KINDS)
    per_kind = -(-count // len(kinds))
    if per_kind > len(services):
        raise EstateError(
            f"{count} violations need {per_kind} services; the estate has "
            f"{len(services)}: ask for more objects"
        )
    if count <= len(services):
        picked = rng.sample(services, count)
    else:
        chosen = {kind: rng.sample(services, per_kind) for kind in kinds}
        picked = [chosen[kinds[i % len(kinds)]][i // len(kinds)] for i in range(count)]
    return [KINDS[kinds[i % len(kinds)]](out, picked[i]) for i in range(count)]


# --- counting -----------------------------------------------------------------


_BLOCK = re.compile(r'(?m)^(resource|data) "')
_MODULE = re.compile(r'(?ms)^module "[^"]+" \{.*?^\s*source\s*=\s*"([^"]+)"')


def _terraform_blocks(directory: Path) -> int:
    """resource/data blocks of a module directory, plus those of its module calls."""
    total = 0
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text()
        total += len(_BLOCK.findall(text))
        for source in _MODULE.findall(text):
            if source.startswith("."):
                total += _terraform_blocks((directory / source).resolve())
    return total


def count_terraform(out: Path) -> int:
    """resource/data blocks per stack, once per module call reaching them."""
    stacks = sorted((out / "infra/terraform/envs").iterdir())
    stacks.append(out / "infra/terraform/bootstrap")
    return sum(_terraform_blocks(stack) for stack in stacks if stack.is_dir())


def count_kubernetes(out: Path) -> int:
    """Objects kustomize renders from every overlay."""
    total = 0
    for overlay in sorted((out / "k8s/overlays").iterdir()):
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(overlay)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        total += sum(1 for doc in yaml.safe_load_all(rendered) if doc)
    return total


def count_dockerfiles(out: Path) -> int:
    return sum(1 for _ in (out / "docker").rglob("Dockerfile"))


# --- sizing and entry point ----------------------------------------------------

K8S_PER_SERVICE = 30  # 10 objects (Deployment, Service, ServiceAccount, PDB,
# 4 NetworkPolicies, ConfigMap, SecretProviderClass) in each of 3 overlays
DOCKERFILES_PER_SERVICE = 1


def per_service_terraform(out: Path) -> int:
    """Blocks one service adds: the identity module, once per environment stack."""
    return len(ENVIRONMENTS) * _terraform_blocks_of(
        out / "infra/terraform/modules/identity"
    )


def _terraform_blocks_of(directory: Path) -> int:
    return sum(len(_BLOCK.findall(p.read_text())) for p in directory.glob("*.tf"))


@dataclass
class Estate:
    """What was generated: sizes, counts and the seeded violations."""

    root: str
    services: int
    objects: dict[str, int]
    violations: list[Seeded]

    def to_json(self) -> str:
        data = asdict(self)
        data["objects"]["total"] = sum(self.objects.values())
        return json.dumps(data, indent=2) + "\n"


def generate(
    objects: int,
    out: Path,
    violations: int = 0,
    seed_value: int = 1,
    source: Path = REPO,
) -> Estate:
    """Generate an estate of about ``objects`` objects at out; see the module doc."""
    copy_repository(source, out)
    base = count_terraform(out) + count_dockerfiles(out) + count_kubernetes(out)
    per_service = K8S_PER_SERVICE + DOCKERFILES_PER_SERVICE + per_service_terraform(out)
    services = service_names(max(1, round((objects - base) / per_service)))

    expand_kustomizations(out, services)
    write_terraform(out, services)
    write_dockerfiles(out, services)
    seeded = seed(out, services, violations, random.Random(seed_value))  # noqa: S311 - picks services

    counts = {
        "kubernetes": count_kubernetes(out),
        "terraform": count_terraform(out),
        "dockerfiles": count_dockerfiles(out),
    }
    estate = Estate(str(out), len(services), counts, seeded)
    (out / MANIFEST).write_text(estate.to_json())
    return estate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--violations", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        estate = generate(args.objects, args.out, args.violations, args.seed)
    except EstateError as error:
        print(f"generate_estate: {error}", file=sys.stderr)
        return 2
    counts = estate.objects
    print(
        f"{args.out}: {estate.services} services, {sum(counts.values())} objects "
        f"(kubernetes {counts['kubernetes']}, terraform {counts['terraform']}, "
        f"dockerfiles {counts['dockerfiles']}), "
        f"{len(estate.violations)} seeded violations"
    )
    for item in estate.violations:
        files = sorted({expected.file for expected in item.findings})
        print(f"  {item.kind:13} {item.service}  {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
