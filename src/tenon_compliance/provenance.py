"""Where a run's evidence came from: git commit, input digests, tool versions."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

# What the suite reads: everything under these folders, and these files.
INPUT_FOLDERS = ("infra", "k8s", "docker", "compliance")
INPUT_FILES = (".gitlab-ci.yml", ".dockerignore")
_SKIPPED_FOLDERS = {".terraform", "__pycache__", ".git"}
_PACKAGES = ("pytest", "PyYAML", "sigstore", "pytest-xdist", "kubernetes-validate")


def git_commit(root: Path) -> str:
    """HEAD's commit at root, with ``+dirty`` when the work tree has changes."""
    if shutil.which("git") is None:
        return "unknown: git is not installed"
    try:
        head = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (subprocess.CalledProcessError, OSError):
        return "unknown: not a git checkout"
    return f"{head}+dirty" if dirty else head


def _git(root: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.strip()


def input_files(root: Path) -> Iterator[str]:
    """Every input file of the repository at root, as sorted relative paths."""
    found: list[str] = [name for name in INPUT_FILES if (root / name).is_file()]
    for folder in INPUT_FOLDERS:
        base = root / folder
        for directory, subfolders, files in os.walk(base):
            subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS)
            relative = Path(directory).relative_to(root)
            found.extend((relative / name).as_posix() for name in files)
    yield from sorted(found)


def input_digests(root: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, sha256)`` of every input file; links are not followed."""
    for name in input_files(root):
        path = root / name
        if path.is_symlink():
            yield name, f"symlink to {os.readlink(path)}"
            continue
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        yield name, digest.hexdigest()


def tool_versions() -> list[tuple[str, str]]:
    """Versions of Python, the Python packages and the external tools used."""
    versions = [("python", sys.version.split()[0])]
    versions += [(package, package_version(package)) for package in _PACKAGES]
    versions.append(("kubectl", kubectl_version()))
    return versions


def package_version(package: str) -> str:
    """The installed version of a Python distribution, or "not installed"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def kubectl_version() -> str:
    """kubectl's client version (it renders the overlays), asked once per process."""
    return _version_of("kubectl", "version", "--client")


@functools.cache
def renderer_version() -> str:
    """The version of what renders the overlays: kubectl, else kustomize."""
    if shutil.which("kubectl") is not None:
        return f"kubectl: {kubectl_version()}"
    return f"kustomize: {_version_of('kustomize', 'version')}"


def _version_of(tool: str, *arguments: str) -> str:
    if shutil.which(tool) is None:
        return "not installed"
    try:
        done = subprocess.run(
            [tool, *arguments],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    return "; ".join(line.strip() for line in done.stdout.splitlines() if line.strip())
