"""docker/requirements-runtime.txt: every package the service imports, hash-pinned."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path(__file__).resolve().parents[2] / "docker/requirements-runtime.txt"
DIRECT = ("pg8000", "botocore")
# The runtime image's interpreter (gcr.io/distroless/python3-debian13).
IMAGE_PYTHON = {**default_environment(), "python_version": "3.13"}
IMAGE_PYTHON["python_full_version"] = "3.13.5"


PIN = r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:\S+)+)"


def pinned() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) as written in the requirements file."""
    text = REQUIREMENTS.read_text().replace("\\\n", " ")
    entries: dict[str, tuple[str, list[str]]] = {}
    for raw in text.splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        match = re.fullmatch(PIN, entry)
        assert match, f"{REQUIREMENTS.name}: not pinned with hashes: {entry}"
        hashes = re.findall(r"sha256:([0-9a-f]{64})", match.group(3))
        entries[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return entries


def closure(names: tuple[str, ...]) -> set[str]:
    """The installed distributions that names need on the image's Python."""
    seen: set[str] = set()
    todo = [canonicalize_name(name) for name in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            env = {**IMAGE_PYTHON, "extra": ""}
            if requirement.marker is None or requirement.marker.evaluate(env):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_every_entry_is_pinned_to_a_version_and_a_sha256() -> None:
    entries = pinned()

    assert entries
    assert all(hashes for _, hashes in entries.values())


def test_the_pins_cover_every_dependency_of_the_service() -> None:
    missing = closure(DIRECT) - set(pinned())

    assert not missing, f"{REQUIREMENTS.name} lacks {sorted(missing)}"


def test_the_tests_run_the_clients_the_image_ships() -> None:
    entries = pinned()

    for name in DIRECT:
        assert entries[name][0] == metadata.version(name), name
