"""The service's log lines: one JSON object per record, secrets redacted."""

from __future__ import annotations

import json
import logging
import secrets

from tenon_probe.logs import REDACTED, JsonFormatter, register_secret


def record(message: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "tenon_probe.test", logging.WARNING, __file__, 1, message, (), None
    )
    made.fields = fields
    return made


def test_a_record_is_one_json_line_with_its_fields() -> None:
    line = JsonFormatter().format(
        record("readiness check failed", dependency="database")
    )

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "warning"
    assert entry["message"] == "readiness check failed"
    assert entry["dependency"] == "database"


def test_a_registered_secret_is_redacted_in_message_and_fields() -> None:
    password = (
        f'pw"{secrets.token_urlsafe(12)}\\'  # quotes and backslash: JSON escapes them
    )
    register_secret(password)

    line = JsonFormatter().format(
        record(f"auth failed with {password}", reason=f"server said {password}")
    )

    assert password not in line
    assert json.dumps(password)[1:-1] not in line
    entry = json.loads(line)
    assert entry["message"] == f"auth failed with {REDACTED}"
    assert entry["reason"] == f"server said {REDACTED}"
