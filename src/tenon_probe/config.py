"""The service's configuration: ``runtime.json`` and the secret files.

``runtime.json`` (ConfigMap ``runtime-api-config``) holds no secret; it is read
once, at start. The database credentials are files written by the Secrets
Store CSI driver (``db-username``, ``db-password``); they are read again at every
new database connection, so a rotated secret is picked up on reconnect.
Nothing is taken from environment variables.

Validation fails closed: an unknown key, a missing key, a wrong type or an
``sslmode`` other than ``verify-full`` is a ``ConfigError`` naming the file and
the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenon_probe.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/tenon/config/runtime.json")
DEFAULT_SECRETS_DIR = Path("/var/run/secrets/tenon")
DB_USERNAME_FILE = "db-username"
DB_PASSWORD_FILE = "db-password"  # noqa: S105 - a file name, not a password


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the database is; the credentials live in the secret files."""

    host: str
    port: int
    name: str
    sslmode: str
    connect_timeout_seconds: float
    # A CA bundle to verify the server with (libpq's name for it); None means
    # the system's trust store. Amazon RDS certificates need the RDS bundle.
    sslrootcert: str | None = None


@dataclass(frozen=True)
class ObjectStorageSettings:
    """The runtime's bucket; credentials come from the AWS SDK's default chain."""

    bucket: str
    region: str
    endpoint_url: str | None = None


@dataclass(frozen=True)
class ListenSettings:
    """The address the probe server binds."""

    host: str = "0.0.0.0"  # noqa: S104 - the pod's kubelet probes over the pod IP
    port: int = 8080


@dataclass(frozen=True)
class RuntimeConfig:
    """The whole content of ``runtime.json``."""

    database: DatabaseSettings
    object_storage: ObjectStorageSettings
    listen: ListenSettings


@dataclass(frozen=True)
class Credentials:
    """The database user and password, read from the secret files."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"


def load_runtime_config(path: Path) -> RuntimeConfig:
    """Read and validate ``runtime.json``.

    Raises ConfigError (naming the file, and the line for a syntax error) when
    the file is missing, unreadable, not JSON or not of the documented shape.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot read: {error}") from error
    return parse_runtime_config(text, str(path))


def parse_runtime_config(text: str, file: str) -> RuntimeConfig:
    """Validate the text of a ``runtime.json``; ``file`` names it in errors.

    Raises ConfigError when the text is not JSON or not of the documented shape.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(file, f"not JSON: {error.msg}", error.lineno) from error
    return _runtime_config(_Reader(file), document)


def read_credentials(secrets_dir: Path) -> Credentials:
    """Read the database credentials from the CSI-mounted secret files.

    Raises ConfigError naming the file when one is missing, unreadable or empty.
    """
    return Credentials(
        username=_read_secret(secrets_dir / DB_USERNAME_FILE),
        password=_read_secret(secrets_dir / DB_PASSWORD_FILE),
    )


def _read_secret(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        # The OS error names the file only; it never carries the content.
        raise ConfigError(str(path), f"cannot read secret file: {error}") from error
    if not value:
        raise ConfigError(str(path), "secret file is empty")
    return value


class _Reader:
    """Typed access to a parsed JSON document, with errors naming file and key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, f"{key}: {message}")

    def section(self, document: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        value = document.get(key) if isinstance(document, dict) else None
        if not isinstance(value, dict):
            raise self.error(key, f"expected an object, found {_kind(value)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.error(key, f"unknown keys {unknown}; allowed: {sorted(allowed)}")
        return value

    def text(self, section: dict[str, Any], key: str, prefix: str) -> str:
        value = section.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                f"{prefix}.{key}", f"expected a non-empty string, found {_kind(value)}"
            )
        return value

    def port(self, section: dict[str, Any], key: str, prefix: str) -> int:
        value = section.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 < value < 65536
        ):
            raise self.error(
                f"{prefix}.{key}", f"expected a port 1-65535, found {_kind(value)}"
            )
        return value

    def seconds(self, section: dict[str, Any], key: str, prefix: str) -> float:
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(
                f"{prefix}.{key}", f"expected a positive number, found {_kind(value)}"
            )
        return float(value)


def _kind(value: Any) -> str:
    """Describe a configuration value for an error message (never a secret here)."""
    if value is None:
        return "nothing"
    if isinstance(value, dict | list):
        return type(value).__name__
    return f"{type(value).__name__} {value!r}"


def _runtime_config(reader: _Reader, document: Any) -> RuntimeConfig:
    if not isinstance(document, dict):
        raise reader.error(
            "(top level)", f"expected an object, found {_kind(document)}"
        )
    unknown = sorted(set(document) - {"database", "object_storage", "listen"})
    if unknown:
        raise reader.error("(top level)", f"unknown keys {unknown}")
    return RuntimeConfig(
        database=_database(reader, document),
        object_storage=_object_storage(reader, document),
        listen=_listen(reader, document),
    )


def _database(reader: _Reader, document: dict[str, Any]) -> DatabaseSettings:
    keys = {"host", "port", "name", "sslmode", "connect_timeout_seconds"}
    keys.add("sslrootcert")
    section = reader.section(document, "database", keys)
    sslmode = reader.text(section, "sslmode", "database")
    if sslmode != "verify-full":
        # The database is reached over the network: TLS with host verification only.
        raise reader.error(
            "database.sslmode", f"expected 'verify-full', found {sslmode!r}"
        )
    return DatabaseSettings(
        host=reader.text(section, "host", "database"),
        port=reader.port(section, "port", "database"),
        name=reader.text(section, "name", "database"),
        sslmode=sslmode,
        connect_timeout_seconds=reader.seconds(
            section, "connect_timeout_seconds", "database"
        ),
        sslrootcert=(
            reader.text(section, "sslrootcert", "database")
            if "sslrootcert" in section
            else None
        ),
    )


def _object_storage(reader: _Reader, document: dict[str, Any]) -> ObjectStorageSettings:
    section = reader.section(
        document, "object_storage", {"bucket", "region", "endpoint_url"}
    )
    endpoint = None
    if "endpoint_url" in section:
        endpoint = reader.text(section, "endpoint_url", "object_storage")
        if not endpoint.startswith(("https://", "http://")):
            raise reader.error(
                "object_storage.endpoint_url",
                f"expected an http(s) URL, found {endpoint!r}",
            )
    return ObjectStorageSettings(
        bucket=reader.text(section, "bucket", "object_storage"),
        region=reader.text(section, "region", "object_storage"),
        endpoint_url=endpoint,
    )


def _listen(reader: _Reader, document: dict[str, Any]) -> ListenSettings:
    section = reader.section(document, "listen", {"host", "port"})
    return ListenSettings(
        host=reader.text(section, "host", "listen"),
        port=reader.port(section, "port", "listen"),
    )
