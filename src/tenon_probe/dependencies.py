"""The dependencies readiness follows: PostgreSQL and the object storage bucket.

Each is a callable that returns when the dependency answered and raises
``DependencyError`` otherwise. Every network operation has a socket timeout,
so a peer that accepts and never answers costs at most that timeout.

Neither check is ever run concurrently with itself (``ReadinessGate`` keeps one
in flight per dependency), which is what lets ``DatabaseCheck`` hold a single
connection without a lock.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pg8000.native  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from tenon_probe.config import (
    DatabaseSettings,
    ObjectStorageSettings,
    read_credentials,
)
from tenon_probe.errors import ConfigError, DependencyError
from tenon_probe.logs import register_secret

log = logging.getLogger(__name__)

APPLICATION_NAME = "tenon-probe"

Check = Callable[[], None]


class DatabaseCheck:
    """``SELECT 1`` over one long-lived TLS connection, reopened after a failure.

    The credentials are read from the secret files at every new connection, so
    a secret rotated by the CSI driver is used from the next reconnect on.
    """

    name = "database"

    def __init__(
        self, settings: DatabaseSettings, secrets_dir: Path, timeout: float
    ) -> None:
        self.settings = settings
        self.secrets_dir = secrets_dir
        self.timeout = min(timeout, settings.connect_timeout_seconds)
        self._connection: pg8000.native.Connection | None = None

    def __call__(self) -> None:
        """Return when the database answered ``SELECT 1``.

        A kept connection that fails is replaced once, at once: a connection
        ended by the server (restart, failover, rotation) is not a database
        that is down. Raises DependencyError (the connection is then dropped)
        when the database does not answer on a new connection either.
        """
        if self._connection is not None:
            try:
                self._select_one(self._connection)
                return
            except DependencyError as error:
                log.info("reconnecting", extra={"fields": {"reason": error.reason}})
        try:
            self._select_one(self._open())
        except ConfigError as error:
            raise DependencyError(self.name, str(error)) from error

    def _select_one(self, connection: pg8000.native.Connection) -> None:
        try:
            rows = connection.run("SELECT 1")
        except (pg8000.native.Error, OSError) as error:
            self.close()
            raise DependencyError(self.name, _describe(error)) from error
        if rows != [[1]]:
            self.close()
            raise DependencyError(self.name, "SELECT 1 returned an unexpected result")

    def _open(self) -> pg8000.native.Connection:
        """A new connection, kept for the next checks; DependencyError if none."""
        try:
            self._connection = self._connect()
        except (pg8000.native.Error, OSError) as error:
            raise DependencyError(self.name, _describe(error)) from error
        return self._connection

    def close(self) -> None:
        """Drop the connection, if any; the next check opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - the connection is being discarded
                log.debug("closing a broken database connection failed")

    def _connect(self) -> pg8000.native.Connection:
        credentials = read_credentials(self.secrets_dir)
        register_secret(credentials.password)
        log.info(
            "opening a database connection",
            extra={"fields": {"host": self.settings.host, "port": self.settings.port}},
        )
        return pg8000.native.Connection(
            user=credentials.username,
            password=credentials.password,
            host=self.settings.host,
            port=self.settings.port,
            database=self.settings.name,
            # verify-full: the server's certificate must chain to a trusted CA
            # and name the host; ssl_context=True would verify nothing.
            ssl_context=ssl.create_default_context(cafile=self.settings.sslrootcert),
            timeout=self.timeout,
            application_name=APPLICATION_NAME,
        )


class ObjectStorageCheck:
    """HeadBucket on the runtime's bucket with the AWS SDK's default credentials."""

    name = "object storage"

    def __init__(self, settings: ObjectStorageSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: Any = None

    def __call__(self) -> None:
        """Return when HeadBucket succeeded; raise DependencyError otherwise."""
        try:
            self._bucket_client().head_bucket(Bucket=self.settings.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "unknown")
            raise DependencyError(self.name, f"HeadBucket answered {code}") from error
        except (BotoCoreError, OSError) as error:
            raise DependencyError(self.name, _describe(error)) from error

    def _bucket_client(self) -> Any:
        if self._client is None:
            self._client = _s3_client(self.settings, self.timeout)
        return self._client


def _s3_client(settings: ObjectStorageSettings, timeout: float) -> Any:
    """A botocore S3 client that tries once and gives up after ``timeout``."""
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1},
        # A custom endpoint (an S3-compatible store) is addressed by path.
        s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        user_agent_appid=APPLICATION_NAME,
    )
    session = botocore.session.get_session()
    # The runtime's AWS identity is its EKS Pod Identity role (the container
    # credentials provider). The node's instance role must never stand in for
    # it, and pods cannot reach the instance metadata service anyway (hop
    # limit 1): without that provider, missing credentials are a clear error,
    # not a call to 169.254.169.254 or the use of another role.
    session.get_component("credential_provider").remove("iam-role")
    return session.create_client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=config,
    )


def _describe(error: BaseException) -> str:
    """The error's class and text, for the log only (never for a probe body)."""
    return f"{type(error).__name__}: {error}"
