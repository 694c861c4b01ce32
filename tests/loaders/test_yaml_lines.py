"""The line-carrying YAML loader: values, lines, and every refusal it promises."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.loaders.yaml_lines import (
    Limits,
    MappingNode,
    Tagged,
    find,
    iter_paths,
    line_of,
    load_documents,
    plain,
)

MANIFEST = b"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: runtime-api
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: runtime-api
          image: registry.example/runtime@sha256:abc
---
apiVersion: v1
kind: Service
metadata:
  name: runtime-api
"""


def test_documents_keep_plain_values() -> None:
    documents = load_documents(MANIFEST, "k8s/base/deployment.yaml")

    assert [plain(document)["kind"] for document in documents] == [
        "Deployment",
        "Service",
    ]
    assert plain(documents[0])["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("path", "line"),
    [
        pytest.param(("spec", "replicas"), 6, id="scalar-value"),
        pytest.param(("spec", "template"), 7, id="block-value-is-the-key-line"),
        pytest.param(
            ("spec", "template", "spec", "containers", 0, "image"), 11, id="in-list"
        ),
        pytest.param(("spec", "template", "spec", "containers", 0), 10, id="item"),
        pytest.param(("spec", "strategy", "type"), 5, id="missing-gives-deepest"),
    ],
)
def test_line_of_a_key_path(path: tuple[object, ...], line: int) -> None:
    deployment = load_documents(MANIFEST, "deployment.yaml")[0]

    assert line_of(deployment, path) == line


def test_find_returns_the_node_or_none() -> None:
    deployment = load_documents(MANIFEST, "deployment.yaml")[0]

    replicas = find(deployment, ("spec", "replicas"))
    assert replicas is not None
    assert (plain(replicas), replicas.line) == (3, 6)
    assert find(deployment, ("spec", "template", "spec", "containers", 5)) is None
    assert find(deployment, ("spec", "replicas", "deeper")) is None


def test_iter_paths_walks_every_node_with_its_path() -> None:
    document = load_documents(b"a:\n  b: [x, y]\n", "f.yaml")[0]

    paths = [path for path, _ in iter_paths(document)]

    assert paths == [(), ("a",), ("a", "b"), ("a", "b", 0), ("a", "b", 1)]


def test_second_document_lines_count_from_the_start_of_the_stream() -> None:
    service = load_documents(MANIFEST, "deployment.yaml")[1]

    assert line_of(service, ("metadata", "name")) == 16


def test_merge_keys_merge_with_explicit_keys_winning() -> None:
    data = (
        b"defaults: &d\n  image: python\n  stage: test\njob:\n  <<: *d\n  stage: lint\n"
    )

    document = load_documents(data, ".gitlab-ci.yml")[0]

    assert plain(document)["job"] == {"stage": "lint", "image": "python"}
    assert line_of(document, ("job", "image")) == 2
    assert line_of(document, ("job", "stage")) == 6


def test_timestamps_stay_text_and_core_scalars_are_typed() -> None:
    data = b"date: 2026-01-01\ncount: 0x10\nratio: 1.5\nflag: true\nnone: ~\n"

    assert plain(load_documents(data, "f.yaml")[0]) == {
        "date": "2026-01-01",
        "count": 16,
        "ratio": 1.5,
        "flag": True,
        "none": None,
    }


def test_custom_tags_are_kept_when_the_caller_names_them() -> None:
    data = b"script:\n  - !reference [.setup, script]\n"

    document = load_documents(data, ".gitlab-ci.yml", custom_tags={"!reference"})[0]

    assert plain(document) == {"script": [Tagged("!reference", [".setup", "script"])]}


def test_empty_stream_has_no_document_and_empty_document_is_none() -> None:
    assert load_documents(b"", "f.yaml") == []
    documents = load_documents(b"---\n---\na: 1\n", "f.yaml")
    assert [plain(document) for document in documents] == [None, {"a": 1}]


def test_utf8_byte_order_mark_is_accepted() -> None:
    document = load_documents("\ufeffname: café\n".encode(), "f.yaml")[0]

    assert plain(document) == {"name": "café"}


ALIAS_BOMB = b"""\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            b"metadata:\n  name: a\n  name: b\n",
            "f.yaml:3: duplicate key 'name' (first at line 2)",
            id="duplicate-key",
        ),
        pytest.param(
            b"a: [1, 2\nb: 3\n", "f.yaml:2: invalid YAML: ", id="unclosed-flow"
        ),
        pytest.param(
            b"a: 1\n b: 2\n", "f.yaml:2: invalid YAML: ", id="bad-indentation"
        ),
        pytest.param(b"a: 1\nb: \xff\n", "f.yaml:2: not UTF-8 text", id="latin-1"),
        pytest.param(
            b"a: 1\n\x00\x01\x02", "f.yaml:2: binary content (a NUL byte)", id="binary"
        ),
        pytest.param(
            ALIAS_BOMB,
            "f.yaml:5: aliases expand to more than 10000 nodes (an alias bomb?)",
            id="alias-bomb",
        ),
        pytest.param(
            b"a: &a [*a]\n",
            "f.yaml:1: alias *a names no complete anchor (undefined, or recursive)",
            id="recursive-alias",
        ),
        pytest.param(
            b"a: *nowhere\n",
            "f.yaml:1: alias *nowhere names no complete anchor",
            id="undefined-alias",
        ),
        pytest.param(
            b"[" * 200 + b"]" * 200,
            "f.yaml:1: nesting deeper than 64 levels",
            id="deep-nesting",
        ),
        pytest.param(
            b"x: !!python/object/apply:os.system [id]\n",
            "f.yaml:1: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:",
            id="python-tag",
        ),
        pytest.param(
            b"x: !reference [a]\n",
            "f.yaml:1: unsupported YAML tag '!reference'",
            id="unnamed-custom-tag",
        ),
        pytest.param(
            b"? [a, b]\n: 1\n",
            "f.yaml:1: a mapping key must be a plain scalar",
            id="complex-key",
        ),
        pytest.param(b"n: 0b_\n", "f.yaml:1: invalid int '0b_'", id="bad-int"),
        pytest.param(
            b"a: 1\njob:\n  <<: [1]\n",
            "f.yaml:3: a merge key (<<) takes a mapping or a sequence of mappings",
            id="bad-merge",
        ),
    ],
)
def test_refused_input_raises_load_error_naming_file_and_line(
    data: bytes, message: str
) -> None:
    with pytest.raises(LoadError, match=f"^{re.escape(message)}"):
        load_documents(data, "f.yaml")


def test_file_above_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(
        LoadError,
        match=r"^big\.yaml: file is 2001 bytes, above the 2000-byte limit for a YAML",
    ):
        load_documents(b"#" * 2001, "big.yaml", limits=Limits(max_bytes=2000))


def test_aliases_below_the_limit_are_expanded() -> None:
    data = b"base: &b {cpu: 1}\none: *b\ntwo: *b\n"

    assert plain(load_documents(data, "f.yaml")[0])["two"] == {"cpu": 1}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_load_error(data: bytes) -> None:
    try:
        load_documents(data, "random.yaml")
    except LoadError as error:
        message = str(error)
    else:
        return
    assert message.startswith("random.yaml")


YAML_TEXT = st.text(
    alphabet=st.sampled_from("ab:-[]{}&*!|>#'\"\n \t,?%@`0x1.~"), max_size=120
)


@settings(max_examples=300, deadline=None)
@given(YAML_TEXT)
def test_random_yaml_like_text_raises_nothing_but_load_error(text: str) -> None:
    try:
        load_documents(text.encode(), "random.yaml")
    except LoadError as error:
        message = str(error)
    else:
        return
    assert message.startswith("random.yaml")


KEYS = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


def _tree(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, min_size=1, max_size=3)
            | st.dictionaries(KEYS, children, min_size=1, max_size=3)
        ),
        max_leaves=12,
    )


@st.composite
def documents(draw: st.DrawFn) -> dict[str, object]:
    """A mapping tree whose leaves are distinct tokens, so each leaf's line is known."""
    counter = iter(range(10_000))
    leaves = st.builds(lambda: f"T{next(counter)}Z")  # keys are lower-case
    return draw(st.dictionaries(KEYS, _tree(leaves), min_size=1, max_size=4))


@settings(max_examples=150, deadline=None)
@given(documents())
def test_generated_documents_keep_their_values_and_lines(
    tree: dict[str, object],
) -> None:
    text = yaml.safe_dump(tree, default_flow_style=False, sort_keys=False)
    lines = text.splitlines()

    document = load_documents(text.encode(), "generated.yaml")[0]

    assert plain(document) == tree
    for path, node in iter_paths(document):
        if isinstance(node, MappingNode) or not isinstance(plain(node), str):
            continue
        token = plain(node)
        expected = next(n for n, line in enumerate(lines, 1) if token in line)
        assert node.line == expected, (path, token)
        assert line_of(document, path) == expected
