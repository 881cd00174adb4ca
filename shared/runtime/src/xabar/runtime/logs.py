"""JSON logs carrying the correlation id of the request or event being handled."""

import logging
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id_var.get()
        record.service = self.service
        return True


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    """Route every logger to stderr as one JSON object a line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CorrelationFilter(service))
    fmt: Any
    if json:
        fmt = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        )
    else:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s")
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream logs every task callback and every received message at INFO
    for noisy in (
        "uvicorn.access",
        "faststream",
        "faststream.access.redis",
        "xabar.bus.faststream",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
