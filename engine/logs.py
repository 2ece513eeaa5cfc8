"""Logging set-up. Markers from the original system: 📝 recorder, 💓 heartbeat, 🏥 health, 🚨 alert.

A filter masks anything that looks like a registered secret, as a last line of defence; code
must still never log a secret in the first place."""

from __future__ import annotations

import logging
import sys
import threading

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Mask this exact value wherever it would appear in a log record."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


class SecretMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            masked = message
            for secret in tuple(_secrets):
                masked = masked.replace(secret, "********")
            if masked is not message and masked != message:
                record.msg, record.args = masked, None
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, so a caller that swaps it
    (pytest capture, an embedding notebook) never leaves the handler on a closed file."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def setup_logging(level: str = "info", stream: object = None) -> None:
    root = logging.getLogger()
    if getattr(root, "_slt_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SecretMaskingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._slt_configured = True  # type: ignore[attr-defined]
