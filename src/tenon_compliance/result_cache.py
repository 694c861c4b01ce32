"""The result cache: a run over unchanged inputs replays the previous results.

Opt-in (``--result-cache DIR``): a compliance gate trusts only a cache it was
told to use. An entry holds a whole run's results (``results.SubjectResults``
as JSON, never pickle) and the sha256 of every file the run read. It is found
by a key made of

- the *environment*: this package's and the probe service's own source, the
  versions of Python, of the packages the controls use and of kubectl (or
  kustomize), and the options that change results (root path, trusted root,
  revision, image and bundle);
- the *listing*: the name of every file and folder under the root (except
  ``.git``, ``.pytest_cache``, ``__pycache__``, the cache itself and the run's
  own JUnit report), so that a file added, removed or renamed anywhere, even
  one no control read, misses;

and replayed only when every file it read still has the same sha256 (every
file under ``k8s/`` counts as read: kustomize reads them). An entry that
cannot be read or does not match is a miss, and the run computes and stores a
new one: the cache can make a run faster, never different. The plugin keeps
no entry of a run given an image (its evidence is read anew every time); such
a run's xdist workers still share their evaluation through a folder of the
run.

One entry is computed at a time per key (a lock file), so pytest-xdist
workers wait for the first one's results instead of each computing them.
The newest ``KEEP`` entries are kept.

The cache folder is trusted like the checkout: whoever can write it decides
what is replayed. Share it only between runs of the same branch (CI: one
cache key per branch).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tenon_compliance
import tenon_probe
from tenon_compliance.evidence import Options
from tenon_compliance.provenance import package_version, renderer_version
from tenon_compliance.results import SubjectResults

log = logging.getLogger(__name__)

FORMAT = 1
KEEP = 8
# Not inputs: Git's data, pytest's state, Python's bytecode (written by the
# run itself when the root is this repository), and this cache if it lives
# under the root.
_UNLISTED = frozenset({".git", ".pytest_cache", "__pycache__"})
# Third-party code whose behaviour decides results, beyond the standard library.
_PACKAGES = (
    "PyYAML",
    "jsonschema",
    "referencing",
    "kubernetes-validate",
    "sigstore",
    "cryptography",
    "pg8000",
    "botocore",
)


class CacheMissError(Exception):
    """An entry exists but cannot be replayed; the message says why."""


@dataclass(frozen=True)
class Entry:
    """A stored run: its results and the files it read, with their sha256."""

    key: str
    written: str
    inputs: dict[str, str]
    subjects: list[SubjectResults]


class ResultCache:
    """The entries of one folder, for one run's options."""

    def __init__(self, folder: Path, options: Options, report: Path) -> None:
        self.folder = folder
        self.options = options
        self.root = options.root
        self._unlisted_file = _relative_to(report.resolve(), self.root)
        self._unlisted_folder = str(folder.resolve())  # the cache itself

    def key(self) -> str:
        """The entry key of the root as it is now (environment and listing)."""
        digest = hashlib.sha256()
        digest.update(json.dumps(self._environment(), sort_keys=True).encode())
        for line in self._listing():
            digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
        return digest.hexdigest()

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock: one process computes an entry, the others wait."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{key}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self, key: str) -> Entry | None:
        """The entry stored under key, or None when there is none.

        Raises CacheMissError when it exists but cannot be replayed: unreadable,
        of another format, or a file it read has changed since.
        """
        path = self.folder / f"{key}.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CacheMissError(f"{path}: cannot be read: {error}") from error
        entry = _parse(raw, key, path)
        changed = self._changed(entry.inputs)
        if changed:
            raise CacheMissError(f"{changed} changed since the entry was stored")
        return entry

    def store(
        self, key: str, inputs: dict[str, str], subjects: list[SubjectResults]
    ) -> Path:
        """Write the entry atomically and drop the oldest beyond KEEP."""
        inputs = {**self._folder_digests("k8s"), **inputs}
        document = {
            "format": FORMAT,
            "key": key,
            "written": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "root": str(self.root),
            "inputs": dict(sorted(inputs.items())),
            "subjects": [subject.plain() for subject in subjects],
        }
        path = self.folder / f"{key}.json"
        _write_atomically(path, json.dumps(document, separators=(",", ":")))
        self._prune()
        return path

    # --- the key -------------------------------------------------------------

    def _environment(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "suite": _source_digest(Path(tenon_compliance.__file__).parent),
            "probe": _source_digest(Path(tenon_probe.__file__).parent),
            "python": sys.version,
            "packages": {name: package_version(name) for name in _PACKAGES},
            "renderer": renderer_version(),
            "root": str(self.root),
            "revision": self.options.revision,
            "trusted_root": _file_digest(self.options.trusted_root),
            "image": self.options.image,
            "signature_bundle": _file_digest(self.options.signature_bundle),
        }

    def _listing(self) -> list[str]:
        """Every path under the root, sorted; a link shows where it points."""
        found: list[str] = []
        for directory, folders, files in os.walk(self.root):
            folders[:] = [
                name
                for name in folders
                if name not in _UNLISTED
                and os.path.join(directory, name) != self._unlisted_folder
            ]
            relative = os.path.relpath(directory, self.root)
            for name in folders + files:
                path = name if relative == "." else f"{relative}/{name}"
                if path == self._unlisted_file:
                    continue
                full = os.path.join(directory, name)
                if os.path.islink(full):
                    path = f"{path} -> {os.readlink(full)}"
                elif name in folders:
                    path += "/"
                found.append(path)
        return sorted(found)

    # --- replay checks ---------------------------------------------------------

    def _changed(self, inputs: dict[str, str]) -> str | None:
        """The first recorded input whose sha256 differs now, or None."""
        for relative, digest in inputs.items():
            path = self.root / relative
            try:
                current = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                return relative
            if current != digest:
                return relative
        return None

    def _folder_digests(self, folder: str) -> dict[str, str]:
        digests: dict[str, str] = {}
        for path in sorted((self.root / folder).rglob("*")):
            if path.is_file() and not path.is_symlink():
                relative = path.relative_to(self.root).as_posix()
                digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=_mtime_or_zero, reverse=True)
        for old in entries[KEEP:]:
            for path in (old, old.with_suffix(".lock")):
                with contextlib.suppress(OSError):
                    path.unlink()


def _parse(raw: bytes, key: str, path: Path) -> Entry:
    """Raises CacheMissError unless raw is an entry of this format and key."""
    try:
        document = json.loads(raw)
        if document.get("format") != FORMAT or document.get("key") != key:
            raise CacheMissError(f"{path}: of another format or key")
        inputs = document["inputs"]
        if not isinstance(inputs, dict) or not inputs:
            raise CacheMissError(f"{path}: records no input")
        subjects = [SubjectResults.from_plain(item) for item in document["subjects"]]
    except CacheMissError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CacheMissError(f"{path}: not a stored run ({error!r})") from error
    if not subjects:
        raise CacheMissError(f"{path}: holds no result")
    return Entry(key, str(document.get("written", "")), inputs, subjects)


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _source_digest(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable: {error}"


def _relative_to(path: Path, root: Path) -> str | None:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else None


def _mtime_or_zero(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
