"""Controls over the built image: what the Dockerfile promised, the image must be.

Subjects are ``image:<manifest digest>``, read from ``--image`` (Options.image)
by ``tenon_compliance.image.load_image``. Without an image the controls are
*not evaluated*, with the reason. Findings point at the Dockerfile line that
decides the property (USER, LABEL, the runtime stage's FROM), or at the overlay
line that pins the digest, since that is where a person fixes them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from tenon_compliance.controls.base import control
from tenon_compliance.errors import LoadError, ResolveError
from tenon_compliance.evidence import ENVIRONMENTS, Evidence
from tenon_compliance.image import ImageEvidence, load_image
from tenon_compliance.image.files import ImageFile, final_tree
from tenon_compliance.loaders import dockerfile as dockerfile_loader
from tenon_compliance.loaders.kubernetes import Overlay, kubernetes
from tenon_compliance.model import Location, Method, Severity, Subject, Violation

DOCKERFILE = "docker/Dockerfile"
RUNTIME_IMAGE = "registry.gitlab.com/tenon/runtime/runtime-api"
RUNTIME_DEPLOYMENT = "runtime-api"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_BASE_DIGEST = "org.opencontainers.image.base.digest"
# CON-5: what a pull may cost. Override with TENON_IMAGE_BUDGET_MB.
SIZE_BUDGET_MB = 150

BIN_DIRS = frozenset(
    {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}
)
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
PACKAGE_MANAGERS = re.compile(
    r"^(apt|apt-get|apt-cache|dpkg|dpkg-deb|apk|yum|dnf|microdnf|rpm|"
    r"pip|pip3|pip3\.\d+)$"
)
PIP_MODULE = re.compile(r"(site|dist)-packages/pip/__init__\.py$")
TOOLCHAIN = re.compile(
    r"^(?:[a-z0-9_]+-linux-gnu-)?(gcc|g\+\+|cc|c\+\+|clang|clang\+\+|cpp|make|"
    r"gmake|cmake|ld|ld\.bfd|ld\.gold|as|rustc|cargo|go)(-\d+(\.\d+)*)?$"
)
PYTHON_HEADERS = re.compile(r"(^|/)include/python3[.\d]*/Python\.h$")

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|"
    r"CREDENTIAL)",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|"
    r"glpat-[0-9A-Za-z_-]{20,}|gh[pousr]_[0-9A-Za-z]{30,}|xox[abprs]-[0-9A-Za-z-]{10,}|"
    r"eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}|://[^/\s:@]+:[^/\s@]+@)"
)
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(\S*)")


# -- selectors and shared evidence ------------------------------------------


def the_image(evidence: Evidence) -> list[Subject]:
    """The one image given with --image.

    Raises EvidenceMissingError without --image, ImageError when unusable.
    """
    image = load_image(evidence)
    return [Subject(f"image:{image.digest}", anchor(evidence, "FROM"), data=image)]


def image_files(evidence: Evidence) -> dict[str, ImageFile]:
    """The image's final file tree, read once per run."""
    return evidence.load("image:files", lambda ev: final_tree(load_image(ev)))


def anchor(evidence: Evidence, keyword: str) -> Location:
    """The last ``keyword`` line of the runtime stage of docker/Dockerfile.

    The image's properties are decided there; without a readable Dockerfile the
    location is the file alone (the Dockerfile controls report why).
    """
    try:
        parsed = evidence.load("image:dockerfile", _read_dockerfile)
    except LoadError:
        return Location(DOCKERFILE)
    if parsed is None or not parsed.stages:
        return Location(DOCKERFILE)
    stage = parsed.final
    lines = [item.line for item in stage.of(keyword)]
    return Location(DOCKERFILE, lines[-1] if lines else stage.line)


def _read_dockerfile(evidence: Evidence) -> dockerfile_loader.Dockerfile | None:
    if not (evidence.root / DOCKERFILE).is_file():
        return None
    return dockerfile_loader.parse(evidence.read_bytes(DOCKERFILE), DOCKERFILE)


@dataclass(frozen=True)
class PinnedDigest:
    """The runtime image digest one overlay pins, and where."""

    environment: str
    digest: str | None
    location: Location


def pinned_digests(evidence: Evidence) -> list[PinnedDigest]:
    """The runtime-api digest each rendered overlay runs, and the line that set it.

    Raises LoadError when an overlay cannot be rendered.
    """
    return evidence.load("image:pinned-digests", _read_pinned_digests)


def _read_pinned_digests(evidence: Evidence) -> list[PinnedDigest]:
    # From the rendered overlays: whatever sets the image (an images: entry, a
    # patch), the rendered Deployment says what runs, and its trace names the
    # source line that set it.
    model = kubernetes(evidence)
    pinned = []
    for environment in ENVIRONMENTS:
        overlay = model.overlays.get(environment)
        if overlay is None:
            where = Location(f"k8s/overlays/{environment}")
            pinned.append(PinnedDigest(environment, None, where))
            continue
        pinned.append(_pinned_in(overlay, environment))
    return pinned


def _pinned_in(overlay: Overlay, environment: str) -> PinnedDigest:
    deployment = overlay.find("Deployment", RUNTIME_DEPLOYMENT)
    if deployment is None:
        return PinnedDigest(environment, None, Location(overlay.kustomization))
    containers = deployment.get("spec", "template", "spec", "containers") or []
    for index, container in enumerate(containers):
        if isinstance(container, dict) and container.get("name") == RUNTIME_DEPLOYMENT:
            path = ("spec", "template", "spec", "containers", index, "image")
            image = str(container.get("image", ""))
            name, _, digest = image.partition("@")
            found = digest if name == RUNTIME_IMAGE and DIGEST.match(digest) else None
            return PinnedDigest(environment, found, deployment.location(*path))
    return PinnedDigest(environment, None, deployment.location())


# -- controls -----------------------------------------------------------------


@control(
    id="IMG-USER-NONROOT",
    title="The image runs as a numeric, non-root user",
    clauses=("CON-3",),
    severity=Severity.CRITICAL,
    method=Method.IMAGE,
    rationale="RFC-16 makes a non-root user mandatory; a name can map to uid 0, "
    "and Kubernetes runAsNonRoot can only verify a numeric user.",
    remedy="Set USER 65532:65532 in the runtime stage of docker/Dockerfile.",
    subjects=the_image,
)
def user_is_numeric_non_root(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    image: ImageEvidence = subject.data
    user = image.config.user
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()) or int(uid) == 0:
        yield Violation(
            anchor(evidence, "USER"),
            "the image's configured user is not a numeric non-root user",
            "a numeric uid other than 0, e.g. 65532:65532",
            repr(user) if user else "no user (root)",
        )


def _executables(evidence: Evidence) -> Iterator[tuple[str, ImageFile]]:
    for path, item in image_files(evidence).items():
        directory, _, name = path.rpartition("/")
        if item.entry.kind != "dir" and directory in BIN_DIRS:
            yield name, item


@control(
    id="IMG-NO-SHELL",
    title="No shell or package manager in the runtime image",
    clauses=("CON-4", "CON-5"),
    severity=Severity.HIGH,
    method=Method.IMAGE,
    rationale="Without a shell nobody can open an interactive session in the "
    "container; without a package manager it cannot be changed in place.",
    remedy="Use the distroless runtime base and copy only the application into "
    "it; remove shells, busybox, apt/dpkg and pip from the runtime stage.",
    subjects=the_image,
)
def no_shell_or_package_manager(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    for name, item in _executables(evidence):
        if name in SHELLS or PACKAGE_MANAGERS.match(name):
            what = "a shell" if name in SHELLS else "a package manager"
            yield Violation(
                anchor(evidence, "FROM"),
                f"{what} is in the image: {item.where}",
                "no shell and no package manager",
                f"/{item.entry.path}",
            )
    for path, item in image_files(evidence).items():
        if PIP_MODULE.search(path) or (
            path.rpartition("/")[2] == "busybox"
            and path.rpartition("/")[0] not in BIN_DIRS
        ):
            yield Violation(
                anchor(evidence, "FROM"),
                f"a package manager or multi-call shell is in the image: {item.where}",
                "no shell and no package manager",
                f"/{path}",
            )


@control(
    id="IMG-NO-SETUID",
    title="No setuid or setgid file in the runtime image",
    clauses=("CON-5",),
    severity=Severity.HIGH,
    method=Method.IMAGE,
    rationale="A setuid or setgid binary is a way to gain privileges the "
    "non-root user does not have.",
    remedy="Clear the bits (chmod u-s,g-s) in the build stage or do not copy the "
    "file into the runtime stage.",
    subjects=the_image,
)
def no_setuid_files(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    for item in image_files(evidence).values():
        entry = item.entry
        if entry.kind == "file" and (entry.setuid or entry.setgid):
            bits = "+".join(
                b
                for b, on in (("setuid", entry.setuid), ("setgid", entry.setgid))
                if on
            )
            yield Violation(
                anchor(evidence, "FROM"),
                f"{bits} file {item.where}",
                "no setuid or setgid bit",
                f"mode {entry.mode:o}",
            )


@control(
    id="IMG-LABELS-PROVENANCE",
    title="The image records its source repository and revision",
    clauses=("FLOW-3", "TST-F2"),
    severity=Severity.HIGH,
    method=Method.IMAGE,
    rationale="The OCI source and revision labels trace a running image back to "
    "the Git commit it was built from.",
    remedy="Add LABEL org.opencontainers.image.source and "
    "org.opencontainers.image.revision=$CI_COMMIT_SHA in the runtime stage.",
    subjects=the_image,
)
def provenance_labels(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    labels = subject.data.config.labels
    where = anchor(evidence, "LABEL")
    for label in (LABEL_SOURCE, LABEL_REVISION):
        if not labels.get(label):
            yield Violation(
                where, f"label {label} is missing", f"{label} set", "absent"
            )
    wanted = evidence.options.revision
    actual = labels.get(LABEL_REVISION)
    if wanted and actual and actual != wanted:
        yield Violation(
            where,
            f"label {LABEL_REVISION} is not the commit being deployed",
            wanted,
            actual,
        )


def _secret_hits(kind: str, pairs: list[tuple[str, str]]) -> Iterator[str]:
    for name, value in pairs:
        looks_secret = bool(SECRET_VALUE.search(value))
        named_secret = (
            bool(SECRET_NAME.search(name))
            and bool(value)
            and not (value.startswith("/"))
        )
        if looks_secret or named_secret:
            yield f"{kind} {name} holds a secret-looking value (value not shown)"


@control(
    id="IMG-NO-SECRET-CONFIG",
    title="No secret in the image configuration (Env, labels, build history)",
    clauses=("INV-3.2", "SEC-1", "SEC-2"),
    severity=Severity.CRITICAL,
    method=Method.IMAGE,
    rationale="Anything in the image config is readable by whoever can pull the "
    "image; secrets come at run time from the Secrets Store CSI driver.",
    remedy="Remove the value from ENV/ARG/LABEL; read it at run time from "
    "/var/run/secrets/tenon/, and rotate the exposed secret.",
    subjects=the_image,
)
def no_secret_in_config(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    config = subject.data.config
    env = [
        tuple(item.split("=", 1)) if "=" in item else (item, "") for item in config.env
    ]
    hits = list(_secret_hits("Env", env))
    hits += _secret_hits("label", list(config.labels.items()))
    for step, line in enumerate(config.history):
        hits += (
            f"{hit} in history step {step}"
            for hit in _secret_hits(
                "build argument or variable", ASSIGNMENT.findall(line)
            )
        )
    for hit in hits:
        yield Violation(
            anchor(evidence, "FROM"),
            hit,
            "no secret in the image",
            "secret-looking value (not shown)",
        )


# File names that hold credentials wherever they appear: private keys, dotenv
# files, and the credential stores of common tools. Public certificates
# (*.pem, *.crt) are everywhere in a base image and are not listed.
SECRET_FILE_NAMES = frozenset(
    {
        ".env",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".pgpass",
        "credentials.json",
    }
)
SECRET_FILE_SUFFIXES = (".key", ".p12", ".pfx", ".jks", ".keystore", "-key.pem")
SECRET_FILE_PATHS = (".aws/credentials", ".docker/config.json", ".kube/config")


def secret_file_reason(path: str) -> str | None:
    """Why a file at path looks like a credential, or None."""
    name = path.rsplit("/", 1)[-1]
    if name in SECRET_FILE_NAMES or name.startswith(".env."):
        return f"its name {name!r} is a credential file's"
    if name.endswith(SECRET_FILE_SUFFIXES):
        return f"its name {name!r} is a private key's or key store's"
    if any(path == p or path.endswith("/" + p) for p in SECRET_FILE_PATHS):
        return "it is a tool's credential store"
    return None


@control(
    id="IMG-NO-SECRET-FILES",
    title="No credential file (private key, .env, credential store) in any layer",
    clauses=("INV-3.2", "SEC-1", "THR-6"),
    severity=Severity.CRITICAL,
    method=Method.IMAGE,
    rationale="A secret copied into a layer at build time ships to every "
    "environment and to everyone who can pull the image; deleting it in a "
    "later layer does not remove it from the earlier one.",
    remedy="Keep credentials out of the build context (.dockerignore) and out "
    "of the image; the runtime reads its secrets from the CSI-mounted files.",
    subjects=the_image,
)
def no_secret_files(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    # Every layer, not the final tree: a file deleted by a later layer is
    # still in the earlier one, and so in every pull of the image.
    for layer in load_image(evidence).layers:
        for entry in layer.entries():
            reason = secret_file_reason(entry.path) if entry.kind == "file" else None
            if reason:
                digest = layer.descriptor.digest
                yield Violation(
                    anchor(evidence, "COPY"),
                    f"/{entry.path} (layer {layer.index} {digest[:19]}) looks like "
                    f"a credential: {reason}",
                    "no credential file in any layer",
                    f"/{entry.path}",
                )


@control(
    id="IMG-NO-TOOLCHAIN",
    title="No build toolchain in the runtime image",
    clauses=("INV-3.1",),
    severity=Severity.MEDIUM,
    method=Method.IMAGE,
    rationale="Build-time stays in the build stage: compilers, make and headers "
    "in the runtime image widen its attack surface and blur the separation.",
    remedy="Build wheels in the builder stage and copy only the installed "
    "application into the runtime stage.",
    subjects=the_image,
)
def no_build_toolchain(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    for name, item in _executables(evidence):
        if TOOLCHAIN.match(name):
            yield Violation(
                anchor(evidence, "FROM"),
                f"build tool in the image: {item.where}",
                "no compiler or build tool",
                f"/{item.entry.path}",
            )
    for path, item in image_files(evidence).items():
        if PYTHON_HEADERS.search(path):
            yield Violation(
                anchor(evidence, "FROM"),
                f"Python headers in the image: {item.where}",
                "no development headers",
                f"/{path}",
            )


def size_budget() -> int:
    """The compressed size budget in bytes (TENON_IMAGE_BUDGET_MB overrides).

    Raises ResolveError when the override is not a whole number of megabytes.
    """
    raw = os.environ.get("TENON_IMAGE_BUDGET_MB", str(SIZE_BUDGET_MB))
    if not raw.isdigit():
        raise ResolveError(f"TENON_IMAGE_BUDGET_MB={raw!r}: not a whole number of MiB")
    return int(raw) * 1024 * 1024


@control(
    id="IMG-SIZE-BUDGET",
    title="The image stays within its size budget",
    clauses=("CON-5",),
    severity=Severity.LOW,
    method=Method.IMAGE,
    rationale="RFC-16 asks for a minimal image; the budget makes growth visible.",
    remedy="Drop what the runtime does not need, or raise TENON_IMAGE_BUDGET_MB "
    "with a reason in the merge request.",
    subjects=the_image,
)
def within_size_budget(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    size, budget = subject.data.compressed_size, size_budget()
    if size > budget:
        yield Violation(
            anchor(evidence, "FROM"),
            "compressed layers exceed the size budget",
            f"<= {budget} bytes",
            f"{size} bytes",
        )


@control(
    id="IMG-BASE-DISTROLESS",
    title="The image is built on the distroless base the Dockerfile pins",
    clauses=("CON-2",),
    severity=Severity.HIGH,
    method=Method.IMAGE,
    rationale="The Dockerfile pins the distroless runtime base by digest; the "
    "image's base.digest label says which base it was really built on.",
    remedy="Build with the pinned base and record it: LABEL "
    "org.opencontainers.image.base.digest=<digest of the runtime FROM>.",
    subjects=the_image,
)
def base_is_pinned_distroless(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    where = anchor(evidence, "FROM")
    parsed = evidence.load("image:dockerfile", _read_dockerfile)
    expected = parsed.final.base.digest if parsed and parsed.stages else None
    if expected is None:
        yield Violation(
            where,
            "the runtime stage's FROM pins no digest to compare",
            "a FROM pinned by @sha256",
            "no pinned runtime base",
        )
        return
    recorded = subject.data.config.labels.get(LABEL_BASE_DIGEST)
    if recorded != expected:
        yield Violation(
            where,
            f"label {LABEL_BASE_DIGEST} does not name the pinned distroless base",
            expected,
            recorded or "label absent",
        )


@control(
    id="IMG-DIGEST-PINNED",
    title="The image is the one every overlay pins",
    clauses=("INV-1.1", "ACC-1"),
    severity=Severity.CRITICAL,
    method=Method.IMAGE,
    rationale="The same image runs in dev, stage and prod: the digest the "
    "overlays pin must be the digest of the image that was checked and signed.",
    remedy="Set the overlay's images: digest to the checked image's digest.",
    subjects=the_image,
)
def digest_matches_overlays(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    image: ImageEvidence = subject.data
    for pinned in pinned_digests(evidence):
        if pinned.digest != image.digest:
            yield Violation(
                pinned.location,
                f"the {pinned.environment} overlay does not pin the checked image",
                image.digest,
                pinned.digest or "no digest pinned",
            )
