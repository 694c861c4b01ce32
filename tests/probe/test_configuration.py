"""Configuration: what is accepted, what is refused, and what the process does then.

RFC-16 FAIL-4: an invalid configuration keeps the pod out of Ready; FAIL-5: the
log says why. The service must still answer liveness (it is alive, only not
ready), so Kubernetes does not restart it in a loop.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from probe_servers import BUCKET, DB_NAME, runtime_config, start_probe

from tenon_probe.config import load_runtime_config, read_credentials
from tenon_probe.errors import ConfigError

VALID = runtime_config(5432, "https://s3.eu-central-1.amazonaws.com")
CREDENTIALS = {"db-username": "tenon_app", "db-password": "pw-written-at-test-time"}


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """VALID with the key at ``path`` set to ``value`` (or removed for ...)."""
    document = copy.deepcopy(VALID)
    *parents, last = path
    section = document
    for key in parents:
        section = section[key]
    if value is ...:
        del section[last]
    else:
        section[last] = value
    return document


def write_config(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def test_the_documented_shape_is_accepted(tmp_path: Path) -> None:
    config = load_runtime_config(write_config(tmp_path, VALID))

    assert config.database.name == DB_NAME
    assert config.database.sslmode == "verify-full"
    assert config.object_storage.bucket == BUCKET
    assert (config.listen.host, config.listen.port) == ("0.0.0.0", 8080)  # noqa: S104


def test_endpoint_url_is_optional(tmp_path: Path) -> None:
    document = changed(("object_storage", "endpoint_url"), ...)

    assert load_runtime_config(write_config(tmp_path, document)).object_storage == (
        type(load_runtime_config(write_config(tmp_path, VALID)).object_storage)(
            bucket=BUCKET, region="eu-central-1"
        )
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(
            ("database", "sslmode"),
            "disable",
            r"database\.sslmode: expected 'verify-full', found 'disable'",
            id="sslmode-disable",
        ),
        pytest.param(
            ("database", "port"),
            "5432",
            r"database\.port: expected a port 1-65535, found str '5432'",
            id="port-as-string",
        ),
        pytest.param(
            ("database", "port"),
            True,
            r"database\.port: expected a port 1-65535, found bool True",
            id="port-as-bool",
        ),
        pytest.param(
            ("database", "host"),
            ...,
            r"database\.host: expected a non-empty string, found nothing",
            id="host-missing",
        ),
        pytest.param(
            ("database", "connect_timeout_seconds"),
            0,
            r"database\.connect_timeout_seconds: expected a positive number",
            id="timeout-zero",
        ),
        pytest.param(
            ("database", "password"),
            "pw",
            r"database: unknown keys \['password'\]",
            id="password-in-configmap",
        ),
        pytest.param(
            ("object_storage", "endpoint_url"),
            "s3.local",
            r"object_storage\.endpoint_url: expected an http\(s\) URL",
            id="endpoint-not-url",
        ),
        pytest.param(
            ("listen",),
            ...,
            r"listen: expected an object, found nothing",
            id="listen-missing",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_file_and_key(
    tmp_path: Path, path: tuple[str, ...], value: Any, message: str
) -> None:
    config_file = write_config(tmp_path, changed(path, value))

    with pytest.raises(ConfigError, match=f"^{config_file}: {message}"):
        load_runtime_config(config_file)


def test_broken_json_is_refused_with_its_line(tmp_path: Path) -> None:
    config_file = tmp_path / "runtime.json"
    config_file.write_text('{\n  "database": {\n    "host": "db",,\n')

    with pytest.raises(ConfigError, match=rf"^{config_file}:3: not JSON"):
        load_runtime_config(config_file)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"runtime\.json: cannot read: .*No such file"
    ):
        load_runtime_config(tmp_path / "runtime.json")


def test_an_empty_secret_file_is_refused_without_echoing_anything(
    tmp_path: Path,
) -> None:
    (tmp_path / "db-username").write_text("tenon_app\n")
    (tmp_path / "db-password").write_text("\n")

    with pytest.raises(ConfigError, match=r"db-password: secret file is empty$"):
        read_credentials(tmp_path)


def test_credentials_never_show_the_password_in_their_repr(tmp_path: Path) -> None:
    for name, value in CREDENTIALS.items():
        (tmp_path / name).write_text(value + "\n")

    credentials = read_credentials(tmp_path)

    assert credentials.password == CREDENTIALS["db-password"]
    assert CREDENTIALS["db-password"] not in repr(credentials)


# --- What the running process does with a bad configuration -----------------------

BROKEN = {
    "runtime-json-missing": (None, CREDENTIALS, "runtime.json", "cannot read"),
    "runtime-json-not-json": ("{ database", CREDENTIALS, "runtime.json", "not JSON"),
    "sslmode-disable": (
        changed(("database", "sslmode"), "disable"),
        CREDENTIALS,
        "runtime.json",
        "database.sslmode: expected 'verify-full'",
    ),
    "db-password-missing": (
        VALID,
        {"db-username": "tenon_app"},
        "db-password",
        "cannot read secret file",
    ),
}


@pytest.mark.parametrize(
    ("config", "credentials", "file", "problem"), BROKEN.values(), ids=BROKEN.keys()
)
def test_invalid_configuration_keeps_readiness_503_and_liveness_200_and_says_why(
    tmp_path: Path,
    config: Any,
    credentials: dict[str, str],
    file: str,
    problem: str,
) -> None:
    probe = start_probe(tmp_path, config, credentials)
    try:
        readiness, liveness = probe.get("/readyz"), probe.get("/healthz")
    finally:
        assert probe.terminate() == 0

    assert (readiness.status, readiness.body) == (503, b"unavailable\n")
    assert (liveness.status, liveness.body) == (200, b"ok\n")
    invalid = [
        record
        for record in probe.log_records()
        if record["message"] == "configuration invalid: the service stays not ready"
    ]
    assert len(invalid) == 1, probe.log()
    assert invalid[0]["level"] == "error"
    assert invalid[0]["file"].endswith(file)
    assert problem in invalid[0]["problem"]
    # Never silent: every readiness evaluation repeats the reason.
    assert any(
        record.get("dependency") == "configuration" and problem in record["reason"]
        for record in probe.log_records()
    )
    assert CREDENTIALS["db-password"] not in probe.log()
