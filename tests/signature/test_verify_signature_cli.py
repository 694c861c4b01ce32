"""``tenon-compliance verify-signature``: 0 verified, 1 rejected, 2 unusable input."""

from __future__ import annotations

from pathlib import Path

import pytest
from signature_data import A_TXT_DIGEST, BEACON, GITHUB_ACTIONS, shared_data

from tenon_compliance.signature.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def keyless(bundle: Path, digest: str = A_TXT_DIGEST, *extra: str) -> list[str | Path]:
    return [
        "--bundle",
        bundle,
        "--digest",
        digest,
        "--identity",
        BEACON,
        "--issuer",
        GITHUB_ACTIONS,
        *extra,
    ]


def test_verified_bundle_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    bundle = shared_data("prod/a.txt.intoto-dsse.sigstore.json")

    status, out, _ = cli(capsys, *keyless(bundle))

    assert status == 0
    assert f"signs {A_TXT_DIGEST} (dsse, https://slsa.dev/provenance/v1)" in out


def test_other_digest_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = shared_data("prod/a.txt.intoto-dsse.sigstore.json")

    status, _, err = cli(capsys, *keyless(bundle, "sha256:" + "2" * 64))

    assert status == 1
    assert err.startswith(f"rejected: {bundle}: the in-toto statement's subject")


def test_predicate_type_option_is_enforced(capsys: pytest.CaptureFixture[str]) -> None:
    bundle = shared_data("prod/a.txt.intoto-dsse.sigstore.json")
    wanted = "https://sigstore.dev/cosign/sign/v1"

    status, _, err = cli(
        capsys, *keyless(bundle, A_TXT_DIGEST, "--predicate-type", wanted)
    )

    assert status == 1
    assert f"is not the required {wanted}" in err


def test_staging_trust_root_option_exits_1_on_a_production_bundle(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    staging = shared_data("staging/trusted_root.json")

    status, _, err = cli(
        capsys, *keyless(bundle, A_TXT_DIGEST, "--trusted-root", str(staging))
    )

    assert status == 1
    assert "certificate chain" in err


def test_key_mode_verifies_the_managed_key_bundle(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")
    key = shared_data("prod/managed-key/key.pub")

    status, out, _ = cli(
        capsys, "--bundle", bundle, "--digest", A_TXT_DIGEST, "--key", key
    )

    assert status == 0
    assert "(key)" in out


def test_missing_bundle_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = cli(capsys, *keyless(tmp_path / "absent.json"))

    assert status == 2
    assert err == (
        f"unusable input: {tmp_path / 'absent.json'}: cannot read the "
        "bundle (No such file or directory)\n"
    )


def test_malformed_digest_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = cli(capsys, *keyless(tmp_path / "b.json", "sha256:xyz"))

    assert status == 2
    assert "digest 'sha256:xyz' is not sha256:<64 lowercase hex>" in err


def test_unreadable_trust_root_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    root = tmp_path / "root.json"
    root.write_text("{}")

    status, _, err = cli(
        capsys, *keyless(bundle, A_TXT_DIGEST, "--trusted-root", str(root))
    )

    assert status == 2
    assert f"{root}: not a usable Sigstore trusted root" in err


def test_garbage_bundle_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bundle = tmp_path / "garbage.json"
    bundle.write_text("{not json")

    status, _, err = cli(capsys, *keyless(bundle))

    assert status == 1
    assert f"rejected: {bundle}: not a valid Sigstore bundle" in err


def test_console_script_dispatches_verify_signature(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tenon_compliance.cli import main as console_main  # noqa: PLC0415

    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    status = console_main(["verify-signature", *map(str, keyless(bundle))])

    assert status == 0
    assert "(message)" in capsys.readouterr().out
