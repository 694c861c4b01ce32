"""Property tests: whatever the bytes, a loader answers with a result or a LoadError.

Random bytes and random edits of the repository's real files (deleting,
duplicating and inserting syntax characters) go through the YAML, HCL and
Dockerfile parsers and through the Terraform and Kubernetes loaders as the
suite calls them. Anything but a result or a ``LoadError`` naming the file
(a crash, a RecursionError, a hang past the deadline) fails the property.
The number of examples is fixed so that CI time is bounded.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders import dockerfile, hcl, kubernetes, terraform, yaml_lines
from tests.conftest import REPO, copy_repository

SYNTAX = [*"{}[]()<>\"'`\\$%#:;,=|&*!?-\n\t ", "<<EOF\n", "${", "%{", "---\n"]
FAST = settings(max_examples=150, deadline=2000, derandomize=True)
SLOW = settings(
    max_examples=25,
    deadline=10_000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def parse_yaml(data: bytes, name: str) -> object:
    return yaml_lines.load_documents(data, name)


PARSERS: dict[str, tuple[str, Callable[[bytes, str], Any]]] = {
    "yaml": ("k8s/base/deployment.yaml", parse_yaml),
    "gitlab-ci": (".gitlab-ci.yml", parse_yaml),
    "hcl": ("infra/terraform/modules/network/main.tf", hcl.parse_bytes),
    "dockerfile": ("docker/Dockerfile", dockerfile.parse),
    "dockerignore": (".dockerignore", dockerfile.parse_dockerignore),
}


def answer(parser: Callable[[bytes, str], Any], data: bytes, name: str) -> None:
    """Parse; a LoadError must name the file, any other exception fails."""
    problem = None
    try:
        parser(data, name)
    except LoadError as error:
        problem = str(error)
    assert problem is None or problem.startswith(name), problem


@st.composite
def edited(draw: st.DrawFn, original: bytes) -> bytes:
    """The original with a few deletions, duplications and syntax insertions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        size = draw(st.integers(1, 40))
        operation = draw(st.sampled_from(("delete", "duplicate", "insert", "byte")))
        if operation == "delete":
            del data[at : at + size]
        elif operation == "duplicate":
            data[at:at] = data[at : at + size]
        elif operation == "insert":
            data[at:at] = draw(st.sampled_from(SYNTAX)).encode()
        else:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FAST
@given(data=st.binary(max_size=4096))
def test_random_bytes_give_a_result_or_a_load_error(kind: str, data: bytes) -> None:
    name, parser = PARSERS[kind]
    answer(parser, data, name)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FAST
@given(data=st.data())
def test_edits_of_the_real_file_give_a_result_or_a_load_error(
    kind: str, data: st.DataObject
) -> None:
    name, parser = PARSERS[kind]
    mutated = data.draw(edited((REPO / name).read_bytes()))
    answer(parser, mutated, name)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository whose files the loader properties overwrite."""
    return copy_repository(tmp_path_factory.mktemp("properties") / "repo")


LOADED_FILES = {
    "terraform": ("infra/terraform/modules/database/main.tf", terraform.load),
    "kubernetes": ("k8s/overlays/prod/kustomization.yaml", kubernetes.load),
}


@pytest.mark.parametrize("kind", sorted(LOADED_FILES))
@SLOW
@given(data=st.data())
def test_edited_inputs_load_or_raise_load_error_through_the_loader(
    kind: str, scratch: Path, data: st.DataObject
) -> None:
    name, load = LOADED_FILES[kind]
    original = (REPO / name).read_bytes()
    target = scratch / name
    target.write_bytes(data.draw(edited(original)))
    problem = None
    try:
        load(Evidence(Options(root=scratch)))
    except LoadError as error:
        problem = str(error)
    finally:
        shutil.copyfile(REPO / name, target)
    assert problem is None or problem.startswith(("infra/", "k8s/")), problem
