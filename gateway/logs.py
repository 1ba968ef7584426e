"""Structured logs: one JSON object per line on stderr."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import time
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload = getattr(record, "turnout", None)
        if isinstance(payload, dict):
            out.update(payload)
        for key in ("model", "error_class", "mapped", "path"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record itself to the writer thread: formatting and the write happen there."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def configure(level: str = "info") -> logging.handlers.QueueListener:
    """JSON lines on stderr, formatted and written by a background thread (off the event loop).
    Returns the started listener; `stop()` it to flush at exit."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, handler)
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level.upper())
    listener.start()
    for noisy in ("uvicorn.access", "httpx", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return listener
