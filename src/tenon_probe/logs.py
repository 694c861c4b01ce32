"""Structured logging: one JSON object per line on stderr, secrets redacted.

The probe bodies say only "ok" or "unavailable" (RFC-16 INV-5.1, INV-5.2); the
reason a dependency failed is written here instead, so a failure is never silent
(FAIL-5). Every secret value the service reads is registered with
``register_secret`` and replaced by ``<redacted>`` in every record, whatever
library produced the text.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

REDACTED = "<redacted>"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Never let ``value`` appear in a log line from now on."""
    if value:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replace every registered secret value in ``text``, longest first."""
    with _secrets_lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        text = text.replace(value, REDACTED)
    return text


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(
                {key: value for key, value in fields.items() if key not in entry}
            )
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        # Redact before encoding (a secret with quotes is escaped by JSON) and after.
        cleaned = {key: _redact_value(value) for key, value in entry.items()}
        return redact(json.dumps(cleaned, default=str, ensure_ascii=False))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str | bytes | BaseException):
        return redact(
            value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        )
    return value


def configure(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the service's records, as JSON lines, to stderr (entry point only)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The AWS SDK and urllib3 log request details at debug level; keep them quiet.
    for noisy in ("botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
