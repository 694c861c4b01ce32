"""Errors of the probe service: one root, one branch per failure area."""

from __future__ import annotations


class ProbeError(Exception):
    """Root of every error raised by tenon_probe."""


class ConfigError(ProbeError):
    """The configuration file or a secret file is missing or invalid.

    The message starts with the file it concerns (and the line, where known).
    """

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


class DependencyError(ProbeError):
    """A dependency of readiness (database, object storage) did not answer."""

    def __init__(self, dependency: str, message: str) -> None:
        self.dependency = dependency
        self.reason = message
        super().__init__(f"{dependency}: {message}")
