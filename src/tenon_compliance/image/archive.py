"""Source: a tar archive of an OCI image layout (``oci-archive:PATH``).

The archive is read in place. Every member is checked before anything is
read: a member that would land outside the layout's folder (absolute, ``..``)
or a link member is an ImageError, since a layout never needs one.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import IO

from tenon_compliance.errors import ImageError
from tenon_compliance.image.blobs import JSON_LIMIT, BlobSource, check_digest
from tenon_compliance.image.layout import layout_root
from tenon_compliance.image.model import Descriptor

MAX_MEMBERS = 100_000


class ArchiveSource(BlobSource):
    """Blobs of a layout stored in a tar archive."""

    def __init__(self, path: Path) -> None:
        self.name = f"oci-archive:{path}"
        try:
            self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by close()
        except (OSError, tarfile.TarError) as error:
            raise ImageError(f"{self.name}: unreadable archive ({error})") from error
        self._members = self._index()

    def _index(self) -> dict[str, tarfile.TarInfo]:
        members: dict[str, tarfile.TarInfo] = {}
        for count, member in enumerate(self._tar, start=1):
            if count > MAX_MEMBERS:
                raise ImageError(f"{self.name}: more than {MAX_MEMBERS} members")
            members[archive_path(member, self.name)] = member
        return members

    def read_member(self, path: str, limit: int) -> bytes:
        """A small member's bytes. Raises ImageError when missing or too large."""
        member = self._members.get(path)
        if member is None or not member.isfile():
            raise ImageError(f"{self.name}: {path} is missing")
        if member.size > limit:
            raise ImageError(f"{self.name}: {path} is larger than {limit} bytes")
        with self._open(member) as stream:
            return stream.read()

    def member_size(self, path: str) -> int:
        """The size of a regular member. Raises ImageError when it is missing."""
        member = self._members.get(path)
        if member is None or not member.isfile():
            raise ImageError(f"{self.name}: {path} is missing")
        return member.size

    def open_blob(self, digest: str) -> IO[bytes]:
        hexdigest = check_digest(digest, self.name).split(":", 1)[1]
        member = self._members.get(f"blobs/sha256/{hexdigest}")
        if member is None or not member.isfile():
            raise ImageError(f"{self.name}: blob {digest} is missing")
        return self._open(member)

    def _open(self, member: tarfile.TarInfo) -> IO[bytes]:
        stream = self._tar.extractfile(member)
        if stream is None:
            raise ImageError(f"{self.name}: {member.name} is not a regular file")
        return stream

    def close(self) -> None:
        self._tar.close()


def archive_path(member: tarfile.TarInfo, name: str) -> str:
    """The member's path inside the layout; ImageError when it leaves the folder."""
    raw = member.name
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if raw.startswith("/") or ".." in parts:
        raise ImageError(f"{name}: member {raw!r} escapes the archive's folder")
    if member.issym() or member.islnk():
        raise ImageError(
            f"{name}: member {raw!r} is a link ({member.linkname!r}); "
            "an image layout archive holds only files and folders"
        )
    return "/".join(parts)


def open_archive(path: Path) -> tuple[ArchiveSource, Descriptor]:
    """The source and root descriptor of the archived layout.

    Raises ImageError when the archive is unreadable or not a layout.
    """
    source = ArchiveSource(path)
    try:
        source.read_member("oci-layout", JSON_LIMIT)
        index_json = source.read_member("index.json", JSON_LIMIT)
        return source, layout_root(index_json, source.name)
    except ImageError:
        source.close()
        raise
