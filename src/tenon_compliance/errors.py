"""The error hierarchy of the compliance suite.

Every error names the file (and line, where one is known) it concerns, so a
person can go straight to the input that caused it.
"""

from __future__ import annotations


class ComplianceError(Exception):
    """Root of every error raised by tenon_compliance."""


class LoadError(ComplianceError):
    """An input file could not be read or parsed.

    The message always starts with ``file:line``.
    """

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


class ResolveError(ComplianceError):
    """A value that a control needs could not be resolved to a known value."""


class EvidenceMissingError(ComplianceError):
    """A piece of evidence a control needs was not supplied (for example no image).

    Controls whose evidence is missing are reported as *not evaluated*, with
    this error's message as the reason; ``--strict`` turns that into a failure.
    """


class CatalogError(ComplianceError):
    """The control catalog is inconsistent (unknown clause, duplicate control id)."""


class WaiverError(ComplianceError):
    """``compliance/waivers.yaml`` is malformed or holds an expired waiver."""


class ImageError(ComplianceError):
    """Image evidence is unusable: a missing blob, a digest mismatch, a bad archive."""


class SignatureError(ComplianceError):
    """A signature bundle was rejected: the message says which check failed."""
