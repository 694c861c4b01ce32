"""Controls over the Dockerfiles and the build context's .dockerignore.

Subjects: ``Dockerfile:<path>`` for a whole file, ``Dockerfile:<stage>`` for
a stage of docker/Dockerfile (``<path>:<stage>`` for any other Dockerfile).
The runtime stage is the last one: what ``docker build`` produces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tenon_compliance.controls.base import control
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders import dockerfile as loader
from tenon_compliance.loaders.dockerfile import Dockerfile, Instruction, Stage
from tenon_compliance.model import Location, Method, Severity, Subject, Violation

MAIN_DOCKERFILE = "docker/Dockerfile"
DISTROLESS = "gcr.io/distroless/"
# Which Python each distroless Python image ships (distroless builds from Debian).
DISTROLESS_PYTHON = {"python3-debian12": "3.11", "python3-debian13": "3.13"}
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY"
    r"|CLIENT_?SECRET|DSN|CONNECTION_?STRING",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|glpat-[0-9A-Za-z_-]{10,}|gh[pousr]_[0-9A-Za-z]{20,}|xox[abp]-"
    r"|://[^/\s:@]+:[^/\s@]+@"
)
CREDENTIAL_FILE = re.compile(
    r"(^|/)(\.env(\..*)?|[^/]*\.pem|[^/]*\.key|[^/]*\.p12|[^/]*\.pfx|id_rsa[^/]*"
    r"|id_ed25519[^/]*|id_ecdsa[^/]*|\.npmrc|\.pypirc|\.netrc|\.git-credentials"
    r"|credentials(\.json)?|\.aws|\.ssh|\.docker|kubeconfig|[^/]*\.tfstate)(/|$)",
    re.IGNORECASE,
)
SHELL_PATHS = re.compile(
    r"(^|/)(sh|bash|ash|dash|zsh|ksh|busybox|toybox)$|(^|/)busybox(/|$)"
)
TOOLCHAIN = re.compile(
    r"\b(pip3?|apt(-get)?|apk|dnf|yum|microdnf|gcc|g\+\+|cc|make|cmake|curl|wget"
    r"|git|uv|poetry|setuptools)\b"
)
OCI_LABELS = ("source", "revision", "version", "created")
_ARG_USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_PLACEHOLDER = re.compile(r"sha256:([0-9a-f])\1{63}")


def placeholder_digest(digest: str) -> bool:
    """True for a digest of one repeated hex digit (sha256:000...): a stand-in."""
    return bool(_PLACEHOLDER.fullmatch(digest))


# --- selectors -------------------------------------------------------------


def _dockerfiles(evidence: Evidence) -> list[Dockerfile]:
    return evidence.load("dockerfiles", loader.load)


def stage_id(dockerfile: Dockerfile, stage: Stage) -> str:
    """``Dockerfile:runtime`` for docker/Dockerfile, ``<path>:<stage>`` otherwise."""
    prefix = "Dockerfile" if dockerfile.path == MAIN_DOCKERFILE else dockerfile.path
    return f"{prefix}:{stage.label}"


def dockerfile_files(evidence: Evidence) -> Iterator[Subject]:
    """Every Dockerfile of the repository (none at all makes the control fail)."""
    for dockerfile in _dockerfiles(evidence):
        yield Subject(
            f"Dockerfile:{dockerfile.path}", Location(dockerfile.path, 1), dockerfile
        )


def runtime_stages(evidence: Evidence) -> Iterator[Subject]:
    """The final (runtime) stage of every Dockerfile."""
    for dockerfile in _dockerfiles(evidence):
        stage = dockerfile.final
        yield Subject(
            stage_id(dockerfile, stage),
            Location(dockerfile.path, stage.line),
            (dockerfile, stage),
        )


def all_stages(evidence: Evidence) -> Iterator[Subject]:
    """Every stage of every Dockerfile."""
    for dockerfile in _dockerfiles(evidence):
        for stage in dockerfile.stages:
            yield Subject(
                stage_id(dockerfile, stage),
                Location(dockerfile.path, stage.line),
                (dockerfile, stage),
            )


def build_context(evidence: Evidence) -> Iterator[Subject]:
    """The build context (the repository root), with its .dockerignore or None."""
    ignore = evidence.load("dockerignore", loader.load_dockerignore)
    yield Subject(".dockerignore", Location(".dockerignore", 1), ignore)


def _at(dockerfile: Dockerfile, line: int) -> Location:
    return Location(dockerfile.path, line)


# --- CON-1 -----------------------------------------------------------------


@control(
    id="DOCKER-MULTI-STAGE",
    title="The image is built in stages: a build stage and a minimal runtime stage",
    clauses=("CON-1", "INV-3.1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 asks for a multi-stage build so that what builds the software "
        "never ships with it."
    ),
    remedy=(
        "Build in a first stage (FROM ... AS build), start the last stage FROM a "
        "runtime base image and COPY --from=build only what the runtime needs."
    ),
    subjects=dockerfile_files,
)
def multi_stage(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """At least two stages; the final stage takes files only from earlier stages."""
    dockerfile: Dockerfile = subject.data
    final = dockerfile.final
    if len(dockerfile.stages) < 2:
        yield Violation(
            _at(dockerfile, final.line),
            "the Dockerfile has a single stage",
            "a build stage and a separate runtime stage",
            "1 stage",
        )
        return
    if final.base_stage is not None:
        yield Violation(
            _at(dockerfile, final.line),
            f"the runtime stage starts FROM the earlier stage {final.base_stage}, "
            "inheriting its build tools",
            "FROM a runtime base image",
            f"FROM {final.base.raw}",
        )
    yield from _final_copies(dockerfile, final)


def _final_copies(dockerfile: Dockerfile, final: Stage) -> Iterator[Violation]:
    earlier = {s.name for s in dockerfile.stages[:-1] if s.name}
    earlier |= {str(s.index) for s in dockerfile.stages[:-1]}
    for item in final.of("COPY", "ADD"):
        source = item.flag("from")
        if item.keyword == "ADD" or source is None or source.lower() not in earlier:
            found = f"{item.keyword} --from={source}" if source else item.keyword
            yield Violation(
                _at(dockerfile, item.line),
                "the runtime stage takes files from outside the earlier stages",
                "COPY --from=<earlier stage> only",
                f"{found} {item.arguments}",
            )


# --- CON-2 -----------------------------------------------------------------


@control(
    id="DOCKER-RUNTIME-DISTROLESS",
    title="The runtime stage is distroless and matches the builder's Python",
    clauses=("CON-2", "CON-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 asks for a distroless runtime base; the virtual environment built "
        "in the build stage only works with the same Python minor version."
    ),
    remedy=(
        "Use gcr.io/distroless/python3-debian13:nonroot@sha256:... for the runtime "
        "stage and python:3.13-* for the build stage."
    ),
    subjects=runtime_stages,
)
def runtime_distroless(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Final base under gcr.io/distroless/ and the builder's Python minor equal."""
    dockerfile, final = subject.data
    base = final.base
    if not base.name.startswith(DISTROLESS):
        yield Violation(
            _at(dockerfile, final.line),
            "the runtime base image is not distroless",
            f"{DISTROLESS}...",
            base.text,
        )
        return
    runtime_python = _distroless_python(base.name)
    for builder in _builders(dockerfile):
        builder_python = _python_minor(builder.base.tag or "")
        if runtime_python is None or builder_python != runtime_python:
            yield Violation(
                _at(dockerfile, builder.line),
                f"the build stage's Python ({builder_python or 'unknown'}) differs "
                f"from the runtime's ({runtime_python or 'unknown'})",
                "the same Python minor version in both stages",
                f"{builder.base.text} / {base.text}",
            )


def _builders(dockerfile: Dockerfile) -> list[Stage]:
    """Earlier stages built on a Python image (they produce the runtime's files)."""
    return [
        stage
        for stage in dockerfile.stages[:-1]
        if stage.base_stage is None and stage.base.name.rsplit("/", 1)[-1] == "python"
    ]


def _python_minor(tag: str) -> str | None:
    match = re.match(r"(\d+\.\d+)", tag)
    return match.group(1) if match else None


def _distroless_python(name: str) -> str | None:
    return DISTROLESS_PYTHON.get(name.rsplit("/", 1)[-1])


# --- INV-1.2 / TST-P2 ------------------------------------------------------


@control(
    id="DOCKER-BASE-PINNED",
    title="Every base image is pinned by digest",
    clauses=("INV-1.2", "TST-P2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "A tag can move; only a digest makes the build reproducible and the image "
        "immutable."
    ),
    remedy="Write FROM <image>:<tag>@sha256:<64 hex> with a literal digest.",
    subjects=all_stages,
)
def base_pinned(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """FROM names an earlier stage, or an image with a literal sha256 digest."""
    dockerfile, stage = subject.data
    base = stage.base
    if stage.base_stage is not None or base.text == "scratch":
        return
    where = _at(dockerfile, stage.line)
    if base.unresolved:
        yield Violation(
            where,
            f"the base image depends on build arguments without a default: "
            f"{', '.join(base.unresolved)}",
            "a literal image@sha256 digest",
            base.raw,
        )
    elif not base.pinned:
        yield Violation(
            where,
            "the base image is not pinned by digest",
            "@sha256:<64 hex>",
            base.text,
        )
    elif placeholder_digest(base.digest or ""):
        yield Violation(
            where,
            "the base image's digest is a placeholder, not a real image",
            "the digest of the published image",
            base.text,
        )
    if base.tag == "latest":
        yield Violation(where, "the base image uses :latest", "a fixed tag", base.text)


_REMOTE = re.compile(r"^(https?|git)://|^git@|\.git(#|$)")
_FETCH_AND_RUN = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|da|z)?sh\b")


@control(
    id="DOCKER-REMOTE-SOURCES-PINNED",
    title="Nothing is fetched at build time without a pinned checksum",
    clauses=("INV-1.2", "TST-P2", "CON-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "ADD of a URL or a git repository, or a script piped from curl into a "
        "shell, puts whatever the server returns today into the image: the "
        "build is neither reproducible nor reviewable."
    ),
    remedy=(
        "Give ADD <url> a --checksum=sha256:<64 hex> (a git source a commit "
        "ref), or install from a hash-pinned requirements file; never pipe a "
        "download into a shell."
    ),
    subjects=all_stages,
)
def remote_sources_pinned(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """ADD of a URL carries a sha256 checksum; no download is piped into a shell."""
    dockerfile, stage = subject.data
    for item in stage.of("ADD"):
        sources = [w for w in item.arguments.split() if _REMOTE.search(w)]
        checksum = item.flag("checksum") or ""
        if sources and not checksum.startswith("sha256:"):
            yield Violation(
                _at(dockerfile, item.line),
                f"ADD fetches {sources[0]} at build time without a checksum",
                "ADD --checksum=sha256:<64 hex> <url> <dest>",
                f"ADD {item.arguments}"[:160],
            )
    for item in stage.of("RUN"):
        if _FETCH_AND_RUN.search(item.arguments):
            yield Violation(
                _at(dockerfile, item.line),
                "RUN pipes a download straight into a shell",
                "a pinned, checksummed artifact",
                item.arguments.strip()[:160],
            )


# --- CON-3 -----------------------------------------------------------------


@control(
    id="DOCKER-USER-NONROOT",
    title="The runtime stage runs as a numeric non-root user",
    clauses=("CON-3",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 makes a non-root user mandatory; a numeric uid lets Kubernetes "
        "verify runAsNonRoot without a passwd file."
    ),
    remedy="End the runtime stage with USER 65532:65532.",
    subjects=runtime_stages,
)
def user_nonroot(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """The final stage's last USER is numeric (uid and gid) and not 0."""
    dockerfile, final = subject.data
    users = final.of("USER")
    if not users:
        yield Violation(
            _at(dockerfile, final.line),
            "the runtime stage sets no USER (it would inherit the base image's)",
            "USER 65532:65532 in the runtime stage",
            "no USER",
        )
        return
    last = users[-1]
    parts = last.arguments.split(":")
    if not all(part.isdigit() for part in parts) or int(parts[0]) == 0:
        yield Violation(
            _at(dockerfile, last.line),
            "the runtime user is not a numeric non-root uid",
            "USER 65532:65532",
            f"USER {last.arguments}",
        )


# --- CON-4 -----------------------------------------------------------------


@control(
    id="DOCKER-RUNTIME-NO-SHELL",
    title="The runtime stage has no shell and needs none",
    clauses=("CON-4",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 forbids interactive shells in the runtime image: nothing may run "
        "through /bin/sh and no shell may be copied in."
    ),
    remedy=(
        "Use exec-form ENTRYPOINT/CMD (JSON arrays), no RUN or SHELL in the "
        "runtime stage, no :debug distroless image, and copy no shell or busybox."
    ),
    subjects=runtime_stages,
)
def runtime_no_shell(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No RUN/SHELL, exec-form ENTRYPOINT/CMD/HEALTHCHECK, no shell copied in."""
    dockerfile, final = subject.data
    if final.base.tag and "debug" in final.base.tag:
        yield Violation(
            _at(dockerfile, final.line),
            "the runtime base is a debug image, which ships a busybox shell",
            "a non-debug distroless tag",
            final.base.text,
        )
    for item in final.of("RUN", "SHELL"):
        yield Violation(
            _at(dockerfile, item.line),
            f"{item.keyword} in the runtime stage needs a shell",
            "no RUN or SHELL after the runtime FROM",
            f"{item.keyword} {item.arguments}"[:120],
        )
    yield from _entrypoint(dockerfile, final)
    yield from _shell_copies(dockerfile, final)


def _entrypoint(dockerfile: Dockerfile, final: Stage) -> Iterator[Violation]:
    entrypoints = final.of("ENTRYPOINT")
    if not entrypoints:
        yield Violation(
            _at(dockerfile, final.line),
            "the runtime stage sets no ENTRYPOINT",
            'ENTRYPOINT ["python3", "-m", "tenon_probe"]',
            "no ENTRYPOINT",
        )
    for item in final.of("ENTRYPOINT", "CMD", "HEALTHCHECK"):
        shell_health = item.keyword == "HEALTHCHECK" and _healthcheck_shell(item)
        if shell_health or (item.keyword != "HEALTHCHECK" and not item.is_exec_form):
            yield Violation(
                _at(dockerfile, item.line),
                f"shell-form {item.keyword} runs through /bin/sh",
                f'exec form: {item.keyword} ["...", "..."]',
                f"{item.keyword} {item.arguments}"[:120],
            )


def _healthcheck_shell(item: Instruction) -> bool:
    words = item.arguments.split(None, 1)
    if not words or words[0].upper() == "NONE":
        return False
    rest = words[1].strip() if len(words) > 1 else ""
    return words[0].upper() == "CMD" and not rest.startswith("[")


def _shell_copies(dockerfile: Dockerfile, final: Stage) -> Iterator[Violation]:
    for item in final.of("COPY", "ADD"):
        for path in _sources(item):
            if SHELL_PATHS.search(path.rstrip("/")):
                yield Violation(
                    _at(dockerfile, item.line),
                    "a shell is copied into the runtime stage",
                    "no sh, bash or busybox in the runtime image",
                    path,
                )


def _sources(item: Instruction) -> list[str]:
    """The source paths of a COPY or ADD (the last word is the destination)."""
    words = item.words
    if item.heredocs:
        return []
    return words[:-1] if len(words) > 1 else []


# --- INV-3.1 / INV-3.2 / SEC-1 ---------------------------------------------


@control(
    id="DOCKER-NO-BUILD-SECRETS",
    title="No secret enters the build: no secret ARG/ENV, mount or credential file",
    clauses=("INV-3.1", "INV-3.2", "SEC-1"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "RFC-16 forbids secrets in code and at build time: an ARG or ENV ends up in "
        "the image history, a secret mount couples the build to a credential."
    ),
    remedy=(
        "Remove the secret from the Dockerfile; the runtime reads secrets from "
        "/var/run/secrets/tenon/ (Secrets Store CSI), never from the build."
    ),
    subjects=all_stages,
)
def no_build_secrets(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Secret-like ARG/ENV (names or values), secret/ssh mounts, credential COPYs."""
    dockerfile, stage = subject.data
    instructions = list(stage.instructions)
    if stage.index == 0:
        instructions = dockerfile.global_args + instructions
    for item in instructions:
        if item.keyword in ("ARG", "ENV"):
            yield from _secret_pairs(dockerfile, item)
        elif item.keyword == "RUN":
            yield from _secret_mounts(dockerfile, item)
        elif item.keyword in ("COPY", "ADD") and item.flag("from") is None:
            yield from _credential_files(dockerfile, item)


def secret_like(name: str, value: str | None) -> str | None:
    """Why a name/value pair looks like a secret, or None (the value is never shown)."""
    if SECRET_NAME.search(name):
        return f"the name {name} looks like a secret"
    if value and SECRET_VALUE.search(value):
        return f"the value of {name} looks like a credential"
    return None


def _secret_pairs(dockerfile: Dockerfile, item: Instruction) -> Iterator[Violation]:
    for name, value in item.pairs:
        reason = secret_like(name, value)
        if reason:
            shown = "<no default>" if value is None else "<value withheld>"
            yield Violation(
                _at(dockerfile, item.line),
                f"{item.keyword} {name}: {reason}",
                "no secret in ARG or ENV",
                f"{item.keyword} {name}={shown}",
            )


def _secret_mounts(dockerfile: Dockerfile, item: Instruction) -> Iterator[Violation]:
    for mount in item.mounts:
        if mount.get("type") in ("secret", "ssh"):
            yield Violation(
                _at(dockerfile, item.line),
                f"a {mount['type']} mount injects a secret at build time",
                "no --mount=type=secret or type=ssh",
                f"--mount=type={mount['type']},id={mount.get('id', '')}",
            )


def _credential_files(dockerfile: Dockerfile, item: Instruction) -> Iterator[Violation]:
    for path in _sources(item):
        if CREDENTIAL_FILE.search(path.rstrip("/")):
            yield Violation(
                _at(dockerfile, item.line),
                "a file that looks like a credential is copied into the image",
                "no .env, key, .npmrc, credentials or state file in the image",
                path,
            )


# --- INV-3.1: toolchain ----------------------------------------------------


@control(
    id="DOCKER-RUNTIME-NO-TOOLCHAIN",
    title="Build tools stay in the build stage",
    clauses=("INV-3.1", "CON-5"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "Build-time is separate from runtime: package managers and compilers in the "
        "runtime image widen its attack surface."
    ),
    remedy=(
        "Install with pip/apt in the build stage and copy only the built virtual "
        "environment and the application into the runtime stage."
    ),
    subjects=runtime_stages,
)
def runtime_no_toolchain(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No toolchain command in the runtime stage, and none copied into it."""
    dockerfile, final = subject.data
    for item in final.of("RUN", "ENTRYPOINT", "CMD"):
        match = TOOLCHAIN.search(" ".join(item.words))
        if match:
            yield Violation(
                _at(dockerfile, item.line),
                f"the runtime stage runs the build tool {match.group(0)}",
                "no pip, apt, gcc, curl ... after the runtime FROM",
                f"{item.keyword} {item.arguments}"[:120],
            )
    for item in final.of("COPY", "ADD"):
        for path in _sources(item):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if TOOLCHAIN.fullmatch(name) or "/bin/pip" in path:
                yield Violation(
                    _at(dockerfile, item.line),
                    f"the build tool {name} is copied into the runtime stage",
                    "only the application and its virtual environment",
                    path,
                )


# --- FLOW-3 / TST-F2 -------------------------------------------------------


@control(
    id="DOCKER-OCI-LABELS",
    title="The image carries OCI source, revision, version and creation labels",
    clauses=("FLOW-3", "TST-F2"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "Traceability from Git to runtime needs the image to say which commit and "
        "version it was built from, set by CI through build arguments."
    ),
    remedy=(
        "In the runtime stage declare ARG VCS_REF, VERSION, BUILD_DATE, SOURCE_URL and "
        "LABEL org.opencontainers.image.revision=$VCS_REF (and .version, .created, "
        ".source) from them."
    ),
    subjects=runtime_stages,
)
def oci_labels(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each org.opencontainers.image.<x> label is set from an ARG of the stage."""
    dockerfile, final = subject.data
    labels = {
        name: (value or "", item)
        for item in final.of("LABEL")
        for name, value in item.pairs
    }
    declared = {name for item in final.of("ARG") for name, _ in item.pairs}
    for short in OCI_LABELS:
        key = f"org.opencontainers.image.{short}"
        if key not in labels:
            yield Violation(
                _at(dockerfile, final.line),
                f"the runtime stage has no {key} label",
                f"LABEL {key}=${{...}} from a build ARG",
                "label missing",
            )
            continue
        value, item = labels[key]
        used = set(_ARG_USE.findall(value))
        if not used or not used <= declared:
            yield Violation(
                _at(dockerfile, item.line),
                f"the {key} label is not set from a build ARG of the runtime stage",
                "a value like ${VCS_REF} with ARG VCS_REF in the same stage",
                value or "empty",
            )


# --- CON-5 / SEC-1: .dockerignore -----------------------------------------

# Paths that must never reach the build context (the context is the repo root).
MUST_EXCLUDE = (
    ".git/config",
    "infra/terraform/main.tf",
    "k8s/base/kustomization.yaml",
    "terraform.tfstate",
    "docker/terraform.tfstate",
    ".env",
    "src/.env",
)


@control(
    id="DOCKER-IGNORE",
    title=".dockerignore keeps Git data, IaC, manifests, state and .env out",
    clauses=("CON-5", "SEC-1"),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "The build context is the repository root; without exclusions Git history, "
        "Terraform state and local .env files would be sent to the builder."
    ),
    remedy=(
        "Add a .dockerignore at the repository root excluding .git, infra/, k8s/, "
        "**/*.tfstate and **/.env (or start from '*' and re-include what the build "
        "needs)."
    ),
    subjects=build_context,
)
def dockerignore(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each of MUST_EXCLUDE is excluded from the build context."""
    ignore = subject.data
    if ignore is None:
        yield Violation(
            subject.location,
            "the build context has no .dockerignore",
            "a .dockerignore at the repository root",
            "missing",
        )
        return
    last = ignore.patterns[-1].line if ignore.patterns else 1
    missing = [path for path in MUST_EXCLUDE if not ignore.excludes(path)]
    if missing:
        yield Violation(
            Location(ignore.path, last),
            "the build context would include files that must stay out",
            "excluded: .git, infra/, k8s/, **/*.tfstate, **/.env",
            f"not excluded: {', '.join(missing)}",
        )


def credential_paths(paths: Iterable[str]) -> list[str]:
    """The paths that look like credential files."""
    return [path for path in paths if CREDENTIAL_FILE.search(path.rstrip("/"))]
