"""Reading images from a real registry on loopback, anonymous and with bearer tokens."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_builders import Built, build
from registry_service import REGISTRY, SKOPEO, Registry, TokenServer, run_registry

from tenon_compliance.errors import ImageError
from tenon_compliance.image import open_image
from tenon_compliance.image.registry import (
    RegistryRedirectHandler,
    parse_challenge,
    parse_reference,
)

pytestmark = pytest.mark.skipif(
    REGISTRY is None or SKOPEO is None,
    reason="docker-registry and skopeo are needed for the registry tests",
)
REPOSITORY = "tenon/runtime/runtime-api"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("layout") / "good")


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, good: Built
) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("registry")) as running:
        running.push(good.path, REPOSITORY)
        yield running


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("token"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, good: Built, token_server: TokenServer
) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("token-registry"), token_server) as reg:
        reg.push(good.path, REPOSITORY)
        yield reg


def test_registry_image_is_the_pushed_image(registry: Registry, good: Built) -> None:
    image = open_image(f"registry:{registry.host}/{REPOSITORY}@{good.digest}")

    assert image.digest == good.digest
    assert image.config.user == "65532:65532"
    assert {e.path for e in image.layers[1].entries()} >= {
        "app/tenon_probe/__main__.py"
    }


def test_unknown_digest_is_reported_missing(registry: Registry) -> None:
    digest = "sha256:" + "0" * 64

    with pytest.raises(ImageError, match=rf"{digest} is missing \(HTTP 404\)"):
        open_image(f"registry:{registry.host}/{REPOSITORY}@{digest}")


def test_token_registry_refuses_anonymous_requests(token_registry: Registry) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(
            f"http://{token_registry.host}/v2/{REPOSITORY}/tags/list"
        )

    assert refused.value.code == 401
    assert "Bearer realm=" in refused.value.headers["WWW-Authenticate"]


def test_registry_image_is_read_with_a_bearer_token(
    token_registry: Registry, token_server: TokenServer, good: Built
) -> None:
    before = len(token_server.requests)

    image = open_image(f"registry:{token_registry.host}/{REPOSITORY}@{good.digest}")

    assert image.digest == good.digest
    assert len(list(image.layers[0].entries())) > 3
    asked = token_server.requests[before:]
    assert any(
        f"scope=repository%3A{REPOSITORY.replace('/', '%2F')}%3Apull" in path
        for path in asked
    )


def test_token_endpoint_without_token_is_an_error(
    token_registry: Registry, token_server: TokenServer, good: Built
) -> None:
    token_server.grant = False
    try:
        with pytest.raises(ImageError, match="returned no token"):
            open_image(f"registry:{token_registry.host}/{REPOSITORY}@{good.digest}")
    finally:
        token_server.grant = True


def test_tags_are_not_accepted() -> None:
    with pytest.raises(ImageError, match="tags are not accepted, only digests"):
        parse_reference("127.0.0.1:5000/tenon/runtime-api:latest")


def test_plain_http_only_for_loopback() -> None:
    digest = "sha256:" + "a" * 64
    assert parse_reference(f"127.0.0.1:5000/r@{digest}").base.startswith("http://")
    assert parse_reference(f"registry.gitlab.com/tenon/r@{digest}").base.startswith(
        "https://registry.gitlab.com/v2/tenon/r"
    )


def test_basic_auth_challenge_is_refused_with_a_reason() -> None:
    with pytest.raises(ImageError, match="only Bearer tokens are followed"):
        parse_challenge('Basic realm="registry"', "registry:https://x/v2/r")


def test_registry_manifest_is_served_unchanged(registry: Registry, good: Built) -> None:
    url = f"http://{registry.host}/v2/{REPOSITORY}/manifests/{good.digest}"
    request = urllib.request.Request(
        url, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback
        served = json.loads(response.read())
    stored = Path(good.path, "blobs", "sha256", good.digest.split(":")[1])
    assert served == json.loads(stored.read_bytes())


def _redirect(url: str, to: str) -> urllib.request.Request | None:
    request = urllib.request.Request(url, headers={"Authorization": "Bearer t0ken"})  # noqa: S310
    handler = RegistryRedirectHandler()
    return handler.redirect_request(request, None, 307, "Temporary Redirect", {}, to)


def test_redirect_to_blob_storage_drops_the_registry_token() -> None:
    redirected = _redirect(
        "https://registry.gitlab.com/v2/tenon/r/blobs/sha256:abc",
        "https://storage.example.com/blob?X-Amz-Signature=1",
    )

    assert redirected is not None
    assert not redirected.has_header("Authorization")


def test_redirect_on_the_same_host_keeps_the_token() -> None:
    redirected = _redirect(
        "https://registry.gitlab.com/v2/a", "https://registry.gitlab.com/v2/b"
    )

    assert redirected is not None
    assert redirected.get_header("Authorization") == "Bearer t0ken"


def test_redirect_from_https_to_http_is_refused() -> None:
    with pytest.raises(ImageError, match="leaves HTTPS"):
        _redirect("https://registry.gitlab.com/v2/a", "http://storage.example.com/b")


def test_registry_serving_a_tampered_layer_is_caught(
    tmp_path: Path, good: Built
) -> None:
    with run_registry(tmp_path) as running:
        running.push(good.path, REPOSITORY)
        manifest = json.loads(
            Path(good.path, "blobs/sha256", good.digest.split(":")[1]).read_bytes()
        )
        layer = manifest["layers"][1]["digest"]
        hexdigest = layer.split(":")[1]
        stored = (
            tmp_path
            / "storage/docker/registry/v2/blobs/sha256"
            / hexdigest[:2]
            / hexdigest
            / "data"
        )
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 0x01
        stored.write_bytes(bytes(data))

        image = open_image(f"registry:{running.host}/{REPOSITORY}@{good.digest}")
        with pytest.raises(
            ImageError, match=rf"blob {layer} does not match its digest"
        ):
            list(image.layers[1].entries())
