"""Mutants of the image and of its signature bundle, for the IMG-* and SIG-* controls.

The good evidence is built at test time: an OCI layout written by the suite's
own writer (tests/image/image_builders), every overlay of the copy pinning its
digest, and a Sigstore bundle over that digest from a private Sigstore
instance made for the run (tests/signature/private_sigstore: fresh keys, its
own trusted root). Each mutant changes one thing: a layer, the config, the
labels, who signed, what was signed, or which digest an overlay pins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mutation_model import Edit, Kill, Mutant

from tenon_compliance.image.writer import Entry

DOCKERFILE = "docker/Dockerfile"
RUNTIME_FROM = "FROM ${RUNTIME_BASE_NAME}@${RUNTIME_BASE_DIGEST} AS runtime"
ELF = b"\x7fELF\x02\x01\x01" + bytes(57)
OTHER_DIGEST = "sha256:" + "0f" * 32
# IMG-SIZE-BUDGET's 150 MB is scaled down to 1 MB for the oversized mutant, so
# the test writes one incompressible megabyte instead of 150.
SMALL_BUDGET_MB = 1
# The runtime stage's COPY, which the image history maps the added layer to.
LAYER_COPY = "COPY --from=build /opt/tenon /opt/tenon"


@dataclass(frozen=True)
class EvidenceMutant:
    """A mutant of the evidence: the built image, its bundle, or both."""

    mutant: Mutant
    extra_layer: tuple[Entry, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str | None] = field(default_factory=dict)
    signer_ref: str | None = None
    signs_other_digest: bool = False
    budget_mb: int | None = None
    random_bytes: int = 0

    @property
    def id(self) -> str:
        return self.mutant.id


def at(control: str, text: str) -> Kill:
    """A kill of control expected at the Dockerfile line holding text."""
    return Kill(control, file=DOCKERFILE, anchor=text)


def _mutant(id_: str, description: str, *kills: Kill, **also: str) -> Mutant:
    return Mutant(id=id_, description=description, edits=(), kills=kills, also=also)


IMAGE_MUTANTS = (
    EvidenceMutant(
        _mutant(
            "image-runs-as-root",
            "the image config runs as user 0",
            at("IMG-USER-NONROOT", "USER 65532:65532"),
        ),
        config={"User": "0"},
    ),
    EvidenceMutant(
        _mutant(
            "image-contains-a-shell",
            "a layer adds /bin/sh",
            at("IMG-NO-SHELL", RUNTIME_FROM),
        ),
        extra_layer=(Entry("bin/sh", ELF, 0o755),),
    ),
    EvidenceMutant(
        _mutant(
            "image-setuid-binary",
            "a layer adds a setuid /usr/bin/su",
            at("IMG-NO-SETUID", RUNTIME_FROM),
        ),
        extra_layer=(Entry("usr/bin/su", ELF, 0o4755),),
    ),
    EvidenceMutant(
        _mutant(
            "image-without-revision-label",
            "the image has no org.opencontainers.image.revision label",
            at("IMG-LABELS-PROVENANCE", "LABEL org.opencontainers"),
        ),
        labels={"org.opencontainers.image.revision": None},
    ),
    EvidenceMutant(
        _mutant(
            "image-password-in-env",
            "the image config carries DB_PASSWORD in its environment",
            at("IMG-NO-SECRET-CONFIG", RUNTIME_FROM),
        ),
        config={"Env": ["PATH=/usr/bin", "DB_PASSWORD=Wint3r-is-c0ming-2026"]},
    ),
    EvidenceMutant(
        Mutant(
            id="image-dotenv-with-password",
            description="a layer carries app/.env with the database password",
            edits=(),
            # Reported at the instruction whose layer holds the file.
            kills=(at("IMG-NO-SECRET-FILES", LAYER_COPY),),
        ),
        extra_layer=(Entry("app/.env", b"DB_PASSWORD=Wint3r-is-c0ming-2026\n"),),
    ),
    EvidenceMutant(
        Mutant(
            id="image-ssh-private-key",
            description="a layer carries an SSH private key under /root/.ssh",
            edits=(),
            # Reported at the instruction whose layer holds the file.
            kills=(at("IMG-NO-SECRET-FILES", LAYER_COPY),),
        ),
        # Not a key: the header alone is what a scanner would look for.
        extra_layer=(
            Entry(
                "root/.ssh/id_ed25519",
                b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
                b"(placeholder)\n-----END OPENSSH PRIVATE KEY-----\n",
                0o600,
            ),
        ),
    ),
    EvidenceMutant(
        _mutant(
            "image-contains-a-compiler",
            "a layer adds gcc to the runtime image",
            at("IMG-NO-TOOLCHAIN", RUNTIME_FROM),
        ),
        extra_layer=(Entry("usr/bin/gcc-14", ELF, 0o755),),
    ),
    EvidenceMutant(
        _mutant(
            "image-over-size-budget",
            "a layer of incompressible data pushes the image over its budget",
            at("IMG-SIZE-BUDGET", RUNTIME_FROM),
        ),
        budget_mb=SMALL_BUDGET_MB,
        random_bytes=SMALL_BUDGET_MB * 1024 * 1024 + 4096,
    ),
    EvidenceMutant(
        _mutant(
            "image-on-another-base",
            "the image was built on another base than the pinned distroless",
            at("IMG-BASE-DISTROLESS", RUNTIME_FROM),
        ),
        labels={"org.opencontainers.image.base.digest": OTHER_DIGEST},
    ),
    EvidenceMutant(
        Mutant(
            id="prod-pins-another-image",
            description="prod pins another digest than the image under test",
            edits=(
                Edit(
                    "k8s/overlays/prod/kustomization.yaml",
                    "PINNED_DIGEST",  # replaced by the built image's digest
                    OTHER_DIGEST,
                ),
            ),
            kills=(Kill("IMG-DIGEST-PINNED"), Kill("SIG-BUNDLE-VERIFIED")),
            also={
                "K8S-IMAGE-SAME-ACROSS-ENVS": "prod no longer runs dev's digest",
                "K8S-OVERLAY-DRIFT": "the rendered image differs between overlays",
            },
        ),
    ),
    EvidenceMutant(
        _mutant(
            "bundle-from-a-branch-pipeline",
            "the bundle was signed by a pipeline of another branch",
            Kill(
                "SIG-BUNDLE-VERIFIED",
                file="k8s/overlays/prod/kustomization.yaml",
                anchor="    digest: ",
            ),
        ),
        signer_ref="refs/heads/feature",
    ),
    EvidenceMutant(
        _mutant(
            "bundle-for-another-digest",
            "the bundle signs another image digest than the one pinned",
            Kill(
                "SIG-BUNDLE-VERIFIED",
                file="k8s/overlays/prod/kustomization.yaml",
                anchor="    digest: ",
            ),
        ),
        signs_other_digest=True,
    ),
)
