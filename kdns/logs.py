"""Logging in CoreDNS's shape: ``[INFO] plugin/NAME: message`` on standard output."""

from __future__ import annotations

import logging
import sys

_LEVELS = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "FATAL",
}


class CoreDNSFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"[{_LEVELS.get(record.levelno, record.levelname)}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup(level: int = logging.INFO) -> None:
    """Send kdns's log records to stdout, once."""
    root = logging.getLogger("kdns")
    if any(getattr(h, "_kdns", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CoreDNSFormatter())
    handler._kdns = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
