"""Reading a layer's tar entries in a stream, without extracting anything.

A path that leaves the image root (``../``, or a relative symlink or hardlink
that climbs above it) is an ImageError: such a layer could write outside its
folder when unpacked. Absolute paths are read relative to the image root, as
container runtimes do, and absolute symlink targets likewise.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from typing import IO

from tenon_compliance.errors import ImageError
from tenon_compliance.image.model import TAR_KINDS, LayerEntry

MAX_ENTRIES = 500_000
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def iterate_entries(stream: IO[bytes], layer: str) -> Iterator[LayerEntry]:
    """Each entry of the (possibly gzip-compressed) layer tar in ``stream``.

    Raises ImageError when the tar is unreadable or an entry escapes the root.
    """
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_ENTRIES:
                    raise ImageError(f"layer {layer}: more than {MAX_ENTRIES} entries")
                yield entry_of(member, layer)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ImageError(f"layer {layer}: unreadable tar ({error})") from error


def entry_of(member: tarfile.TarInfo, layer: str) -> LayerEntry:
    """The LayerEntry of one tar member. Raises ImageError on an escaping path."""
    path = safe_path(member.name, f"layer {layer}")
    kind = TAR_KINDS.get(member.type, "other")
    link = ""
    if kind == "symlink":
        link = member.linkname
        check_symlink(path, link, f"layer {layer}")
    elif kind == "hardlink":
        link = safe_path(member.linkname, f"layer {layer} hardlink {path}")

    directory, name = posixpath.split(path)
    if name == OPAQUE:
        return LayerEntry(directory, "whiteout", member.mode, 0, opaque=True)
    if name.startswith(WHITEOUT):
        removed = posixpath.join(directory, name[len(WHITEOUT) :])
        return LayerEntry(path, "whiteout", member.mode, 0, whiteout=removed)
    return LayerEntry(path, kind, member.mode, member.size, link_target=link)


def safe_path(name: str, where: str) -> str:
    """``name`` normalised relative to the root; ImageError when it climbs out."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ImageError(f"{where}: entry {name!r} escapes its folder (contains ..)")
    if "\0" in name:
        raise ImageError(f"{where}: entry {name!r} contains a NUL byte")
    return "/".join(parts)


def check_symlink(path: str, target: str, where: str) -> None:
    """Raise ImageError when a relative symlink target climbs above the root."""
    if target.startswith("/"):
        return
    depth = path.count("/")
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ImageError(
                    f"{where}: symlink {path!r} -> {target!r} escapes its folder"
                )
        elif part not in ("", "."):
            depth += 1
