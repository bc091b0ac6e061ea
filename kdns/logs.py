"""Logging in CoreDNS's shape: ``[INFO] plugin/NAME: message`` on standard output."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

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


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """The handler ``setup`` adds, told apart from any other so it is added once."""


def setup(level: int = logging.INFO) -> None:
    """Send kdns's log records to stdout, once."""
    root = logging.getLogger("kdns")
    if any(isinstance(h, _StdoutHandler) for h in root.handlers):
        return
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(CoreDNSFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
