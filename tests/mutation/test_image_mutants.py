"""Every image and bundle mutant is killed by the IMG-* and SIG-* controls it names.

Clean evidence (built here, see mutation_image) passes every control; each
mutant changes one thing and must fail its controls, at the Dockerfile or
overlay line they report, and no other control may move.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
from mutation_harness import (
    ROW_PROPERTY,
    Run,
    check_mutant,
    killed_controls,
    row,
    run_all,
)
from mutation_image import IMAGE_MUTANTS, OTHER_DIGEST, EvidenceMutant
from mutation_model import Mutant, apply_mutant

from tenon_compliance.engine import Outcome
from tenon_compliance.image.writer import Entry
from tests.conftest import copy_repository
from tests.image.image_builders import APP_LAYER, BASE_LAYER, CONFIG, REVISION, build
from tests.signature.private_sigstore import (
    GitLabIdentity,
    PrivateSigstore,
    statement_about,
)

OVERLAYS = ("dev", "stage", "prod")
IMAGE = "<image under test>"
# The good evidence: nothing changed.
CLEAN = EvidenceMutant(
    Mutant(id="clean", description="the good evidence", edits=(), kills=())
)


@dataclasses.dataclass(frozen=True)
class Signer:
    """A private Sigstore instance made for this run, and its trusted root file."""

    sigstore: PrivateSigstore
    trusted_root: Path


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    sigstore = PrivateSigstore()
    folder = tmp_path_factory.mktemp("trust")
    return Signer(sigstore, sigstore.trusted_root(folder / "trusted_root.json"))


def evidence_for(
    tmp_path: Path,
    signer: Signer,
    mutant: EvidenceMutant | None = None,
) -> tuple[Path, dict[str, Any], str]:
    """A pinned copy, the image and its bundle; returns (root, options, digest)."""
    mutant = mutant or CLEAN
    root = copy_repository(tmp_path / "repo")
    built = build(tmp_path / "image", layers=_layers(mutant), config=_config(mutant))
    _pin_overlays(root, built.digest)

    signed = OTHER_DIGEST if mutant.signs_other_digest else built.digest
    identity = GitLabIdentity()
    if mutant.signer_ref:
        identity = GitLabIdentity(
            san=f"https://gitlab.com/tenon/runtime//.gitlab-ci.yml@{mutant.signer_ref}",
            ref=mutant.signer_ref,
        )
    bundle = tmp_path / "runtime-api.sigstore.json"
    bundle.write_bytes(
        signer.sigstore.sign_statement(statement_about(signed), identity)
    )
    options = {
        "image": built.ref,
        "signature_bundle": bundle,
        "trusted_root": signer.trusted_root,
        "revision": REVISION,
    }
    return root, options, built.digest


def _layers(mutant: EvidenceMutant) -> list[list[Entry]]:
    layers = [BASE_LAYER, APP_LAYER]
    extra = list(mutant.extra_layer)
    if mutant.random_bytes:
        extra.append(Entry("var/crash/core", os.urandom(mutant.random_bytes)))
    return [*layers, extra] if extra else layers


def _config(mutant: EvidenceMutant) -> dict[str, Any]:
    labels = dict(CONFIG["Labels"])
    for name, value in mutant.labels.items():
        if value is None:
            labels.pop(name, None)
        else:
            labels[name] = value
    return {**CONFIG, **mutant.config, "Labels": labels}


def _pin_overlays(root: Path, digest: str) -> None:
    for env in OVERLAYS:
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        text = path.read_text(encoding="utf-8")
        pinned = re.sub(r"digest: sha256:[0-9a-f]{64}", f"digest: {digest}", text)
        assert pinned != text, f"{path}: no digest to pin"
        path.write_text(pinned, encoding="utf-8")


@pytest.fixture(scope="module")
def clean_run(
    signer: Signer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    root, options, digest = evidence_for(tmp_path_factory.mktemp("clean"), signer)
    return run_all(root, **options).renamed(digest, IMAGE)


def test_clean_evidence_passes_every_image_and_signature_control(
    clean_run: Run,
) -> None:
    checked = {
        case_id: case.outcome
        for case_id, case in clean_run.cases.items()
        if case.control.startswith(("IMG-", "SIG-"))
    }

    assert checked
    assert set(checked.values()) == {Outcome.PASSED.value}, checked


def _params() -> list[object]:
    return [
        pytest.param(
            evidence,
            id=evidence.id,
            marks=[pytest.mark.xfail(reason=evidence.mutant.gap, strict=True)]
            if evidence.mutant.gap
            else [],
        )
        for evidence in IMAGE_MUTANTS
    ]


@pytest.mark.parametrize("evidence_mutant", _params())
def test_evidence_mutant_is_killed_by_its_controls_only(
    evidence_mutant: EvidenceMutant,
    clean_run: Run,
    signer: Signer,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    root, options, digest = evidence_for(tmp_path, signer, evidence_mutant)
    mutant = evidence_mutant.mutant
    if mutant.edits:  # the digest the copy pins is known only now
        edits = tuple(
            dataclasses.replace(edit, old=edit.old.replace("PINNED_DIGEST", digest))
            for edit in mutant.edits
        )
        mutant = dataclasses.replace(mutant, edits=edits)
    applied = apply_mutant(root, mutant)
    with pytest.MonkeyPatch.context() as patch:
        if evidence_mutant.budget_mb is not None:
            patch.setenv("TENON_IMAGE_BUDGET_MB", str(evidence_mutant.budget_mb))
        mutated = run_all(root, **options).renamed(digest, IMAGE)

    killed = killed_controls(clean_run, mutated)
    record_property(ROW_PROPERTY, row(mutant, applied, killed))
    if mutant.gap:  # expected to fail until the named controls catch it at all
        missing = sorted(set(mutant.kill_ids) - killed)
        assert not missing, f"{mutant.id}: not killed by {missing}: {mutant.gap}"
        return
    check_mutant(mutant, applied, root, clean_run, mutated)
