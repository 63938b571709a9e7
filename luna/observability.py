"""JSON log lines (short ones on a terminal) with request/job context, and the Prometheus metrics luna exports.

configure_logging("INFO")
with log_context(dataset_id=17, job_id=17): log.info("validating")
metrics = Metrics(); metrics.http_requests.inc({"method": "GET", ...})
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from aioprometheus import Counter, Gauge, Histogram, Registry

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "luna_log_context", default=None
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (request_id, dataset_id, job_id, ...) to every log line in this context."""
    merged = {**(_context.get() or {}), **fields}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_context.get() or {})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TerminalFormatter(logging.Formatter):
    """One short line for a person at a terminal (`make run`): time, level, message, context."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {**(_context.get() or {})}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            fields.update(extra)
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} "
        line += f"{record.levelname:<7} {record.getMessage()}"
        line += "".join(f" {key}={value}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str) -> None:
    """JSON lines for collectors; short lines when a person watches stderr on a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter() if sys.stderr.isatty() else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp-jwt logs a full stack trace for every refused token; luna logs the 401 itself.
    logging.getLogger("aiohttp_jwt").setLevel(logging.CRITICAL + 1)
    # aiohttp's own access log duplicates luna's request log line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


# Request latencies of an API whose slowest route presigns thousands of URLs.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A validation takes from a second (tiny dataset) to many minutes (tens of GB).
_JOB_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)


class Metrics:
    """The metrics one luna process exports on /metrics (names from the original service)."""

    def __init__(self) -> None:
        self.registry = registry = Registry()
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests by method, route and status.", registry=registry
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route.",
            buckets=_HTTP_BUCKETS,
            registry=registry,
        )
        self.queue_length = Gauge(
            "validation_queue_length", "Validation jobs waiting in the queue.", registry=registry
        )
        self.oldest_job_age = Gauge(
            "validation_oldest_job_age_seconds",
            "Age of the oldest validation job not yet settled (0 when none).",
            registry=registry,
        )
        self.validation_duration = Histogram(
            "validation_duration_seconds",
            "Time to validate one dataset, by outcome.",
            buckets=_JOB_BUCKETS,
            registry=registry,
        )
        self.s3_uploads = Counter(
            "s3_upload_count",
            "Files found stored in S3 by validation, as uploaded by teams.",
            registry=registry,
        )
        self.s3_upload_bytes = Counter(
            "s3_upload_bytes",
            "Bytes of the files found stored in S3 by validation.",
            registry=registry,
        )
        self.validators_live = Gauge(
            "validators_live", "Validator actors this process runs.", registry=registry
        )
        self.validators_busy = Gauge(
            "validators_busy", "Validator actors validating a job right now.", registry=registry
        )
        self.concurrent_uploads = Gauge(
            "concurrent_uploads",
            "Datasets whose upload has started and not completed.",
            registry=registry,
        )
