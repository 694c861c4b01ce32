"""Reading images from OCI layouts and archives: blobs verified, entries safe."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from image_builders import APP_LAYER, BASE_LAYER, CONFIG, build

from tenon_compliance.errors import ImageError
from tenon_compliance.image import open_image
from tenon_compliance.image.files import final_tree
from tenon_compliance.image.writer import Entry, LayoutWriter, layer_tar


def blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":")[1]


def manifest_of(layout: Path, digest: str) -> dict:
    return json.loads(blob_path(layout, digest).read_bytes())


def test_layout_yields_manifest_config_and_layers(tmp_path: Path) -> None:
    built = build(tmp_path / "good")

    image = open_image(built.ref)

    assert image.digest == built.digest
    assert image.config.user == "65532:65532"
    assert image.config.entrypoint == ("python3", "-m", "tenon_probe")
    assert image.config.labels["org.opencontainers.image.source"].endswith("runtime")
    assert len(image.layers) == 2
    assert all(
        layer.descriptor.media_type.endswith("tar+gzip") for layer in image.layers
    )
    paths = [entry.path for entry in image.layers[0].entries()]
    assert "usr/bin/python3.13" in paths


def test_layer_entries_carry_type_mode_and_link_target(tmp_path: Path) -> None:
    built = build(tmp_path / "good")
    entries = {e.path: e for e in open_image(built.ref).layers[0].entries()}

    assert entries["usr/bin/python3"].kind == "symlink"
    assert entries["usr/bin/python3"].link_target == "python3.13"
    assert entries["usr/bin/python3.13"].mode == 0o755
    assert entries["etc"].kind == "dir"


def test_archive_of_a_layout_reads_like_the_directory(tmp_path: Path) -> None:
    built = build(tmp_path / "good")
    archive = tmp_path / "good.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(built.path, arcname=".")

    image = open_image(f"oci-archive:{archive}")

    assert image.digest == built.digest
    assert len(list(image.layers[1].entries())) == len(APP_LAYER)


def test_tampered_layer_is_rejected_naming_the_blob(tmp_path: Path) -> None:
    built = build(tmp_path / "bad")
    layer = manifest_of(built.path, built.digest)["layers"][1]["digest"]
    target = blob_path(built.path, layer)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))

    image = open_image(built.ref)
    with pytest.raises(ImageError, match=rf"blob {layer} does not match its digest"):
        list(image.layers[1].entries())


def test_layer_longer_than_its_descriptor_is_rejected(tmp_path: Path) -> None:
    built = build(tmp_path / "bad")
    layer = manifest_of(built.path, built.digest)["layers"][0]["digest"]
    with blob_path(built.path, layer).open("ab") as stream:
        stream.write(b"extra")

    with pytest.raises(ImageError, match=rf"blob {layer} is larger than its"):
        list(open_image(built.ref).layers[0].entries())


def test_tampered_config_is_rejected_when_the_image_is_opened(tmp_path: Path) -> None:
    built = build(tmp_path / "bad")
    config = manifest_of(built.path, built.digest)["config"]["digest"]
    target = blob_path(built.path, config)
    target.write_bytes(target.read_bytes().replace(b"65532:65532", b"00000:00000"))

    with pytest.raises(ImageError, match=rf"oci:.*blob {config} does not match"):
        open_image(built.ref)


def test_missing_blob_is_named(tmp_path: Path) -> None:
    built = build(tmp_path / "bad")
    config = manifest_of(built.path, built.digest)["config"]["digest"]
    blob_path(built.path, config).unlink()

    with pytest.raises(ImageError, match=rf"blob {config} is missing"):
        open_image(built.ref)


def test_index_without_the_platform_is_rejected(tmp_path: Path) -> None:
    built = build(tmp_path / "arm")
    index = json.loads((built.path / "index.json").read_text())
    index["manifests"][0]["platform"] = {"os": "linux", "architecture": "arm64"}
    (built.path / "index.json").write_text(json.dumps(index))

    with pytest.raises(ImageError, match="0 manifests for platform linux/amd64"):
        open_image(built.ref)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param(Entry("../etc/cron.d/x", b"x"), "escapes its folder", id="dotdot"),
        pytest.param(
            Entry("app/../../x", b"x"), "escapes its folder", id="inner-dotdot"
        ),
        pytest.param(
            Entry("app/link", kind="symlink", link="../../../etc/shadow"),
            "symlink 'app/link' -> '../../../etc/shadow' escapes",
            id="symlink",
        ),
        pytest.param(
            Entry("app/hard", kind="hardlink", link="../outside"),
            "escapes its folder",
            id="hardlink",
        ),
    ],
)
def test_layer_entry_escaping_the_root_is_rejected(
    tmp_path: Path, entry: Entry, reason: str
) -> None:
    built = build(tmp_path / "evil", layers=[BASE_LAYER, [entry]])

    with pytest.raises(ImageError, match=rf"layer sha256:[0-9a-f]+.*{reason}"):
        list(open_image(built.ref).layers[1].entries())


def test_absolute_symlink_target_stays_inside_the_image(tmp_path: Path) -> None:
    link = Entry("usr/bin/py", kind="symlink", link="/usr/bin/python3.13")
    built = build(tmp_path / "ok", layers=[BASE_LAYER, [link]])

    (entry,) = open_image(built.ref).layers[1].entries()

    assert entry.link_target == "/usr/bin/python3.13"


def test_archive_member_escaping_its_folder_is_rejected(tmp_path: Path) -> None:
    built = build(tmp_path / "good")
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(built.path, arcname=".")
        info = tarfile.TarInfo("../../tmp/planted")
        tar.addfile(info)

    with pytest.raises(ImageError, match=r"member '../../tmp/planted' escapes"):
        open_image(f"oci-archive:{archive}")


def test_archive_with_a_link_member_is_rejected(tmp_path: Path) -> None:
    build(tmp_path / "good")
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "good", arcname=".")
        info = tarfile.TarInfo("blobs/sha256/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    with pytest.raises(ImageError, match="is a link"):
        open_image(f"oci-archive:{archive}")


def test_directory_that_is_not_a_layout_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"not an OCI image layout \(no oci-layout\)"):
        open_image(f"oci:{tmp_path}")


def test_unknown_source_kind_is_rejected() -> None:
    with pytest.raises(ImageError, match="unknown image source 'podman'"):
        open_image("podman:abc")


def test_whiteouts_in_later_layers_remove_files(tmp_path: Path) -> None:
    shell = [
        Entry("bin/", kind="dir", mode=0o755),
        Entry("bin/sh", ELF_SH, 0o755),
        Entry("opt/tools/", kind="dir"),
        Entry("opt/tools/make", b"x", 0o755),
    ]
    removal = [Entry("bin/.wh.sh"), Entry("opt/tools/.wh..wh..opq")]
    writer = LayoutWriter(tmp_path / "wh")
    manifest = writer.image([layer_tar(shell), layer_tar(removal)], CONFIG)
    writer.index([manifest])

    tree = final_tree(open_image(f"oci:{tmp_path / 'wh'}"))

    assert "bin/sh" not in tree
    assert "opt/tools/make" not in tree
    assert "bin" in tree


ELF_SH = b"\x7fELF-sh"
