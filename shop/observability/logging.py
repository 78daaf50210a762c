"""Structured logs: every line of every process in one shape, JSON in production, readable locally.

The standard library's logging stays the API (``logging.getLogger(__name__)``, Django, Celery,
gunicorn); structlog's ``ProcessorFormatter`` renders each record that is emitted, adding what the
process is (``set_process``), what the request or event being handled is (structlog's contextvars,
bound by ``shop.observability.request_id`` and the consumer) and the event fields a line passes
as ``extra=event_fields(...)``. Nothing here runs for a line whose level is off.

A line's keys: ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``process`` (web,
worker, relay, bridge, command), ``service`` (when the process serves or consumes for some), and
where they exist ``request_id``, ``event_id``, ``event_type``, ``topic``, ``correlation_id`` and
``exception``. The message is under ``message``, not structlog's ``event``: in this codebase an
event is a domain event (``event_id``, ``event_type``), and ``message`` is what Google Cloud
Logging and most collectors show as a line's summary.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

import orjson
import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, merge_contextvars, reset_contextvars

LOG_FORMATS = ("console", "json")
PROCESS_KINDS = ("web", "worker", "relay", "bridge", "command")
MESSAGE_KEY = "message"

# What a line may carry from a record's ``extra``: these names only, so that an object a library
# passes along (Django's request, Celery's task arguments with their payloads) never reaches a line.
EXTRA_FIELDS = ("event_id", "event_type", "topic", "correlation_id", "task_id")

# The process this is and the services it works for, set once at start by its entry point
# (gunicorn_conf/wsgi, run_worker, run_relay, run_bridge); anything else is a command. A module
# global rather than a contextvar: threads (Celery's pool, the bridge's pull loops) start with an
# empty context, and forked gunicorn workers inherit it.
_process: dict[str, str] = {"process": "command"}


def set_process(kind: str, services: Iterable[str] = ()) -> None:
    """Name this process's kind and the services it serves (a worker: those it consumes for)."""
    if kind not in PROCESS_KINDS:
        raise ValueError(f"process kind must be one of {PROCESS_KINDS}, not {kind!r}")
    _process.clear()
    _process["process"] = kind
    names = ",".join(name for name in services if name)
    if names:
        _process["service"] = names


def _environment_service() -> None:
    service = os.environ.get("SHOP_SERVICE")
    if service:
        _process["service"] = service


_environment_service()


def add_process(logger: Any, method_name: str, event_dict: dict) -> dict:
    """``process`` and ``service`` (a ``service`` bound for the event being handled wins); and no
    key bound to None (an event without a correlation id binds it so, to be restored after it)."""
    for key in [key for key, value in event_dict.items() if value is None]:
        del event_dict[key]
    for key, value in _process.items():
        event_dict.setdefault(key, value)
    return event_dict


# --- Keeping personal data out -------------------------------------------------------------------
# Log calls name ids only; these catch what libraries write into exception messages: an address in
# a refused recipient (smtplib) or a unique violation's DETAIL (PostgreSQL), and the input values
# pydantic quotes in its validation errors (names, addresses, message bodies).
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_PYDANTIC_INPUT = re.compile(r"input_value=.*?, input_type=", re.DOTALL)


def redact(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    if "input_value=" in text:
        text = _PYDANTIC_INPUT.sub("input_value=[redacted], input_type=", text)
    return text


def redact_personal_data(logger: Any, method_name: str, event_dict: dict) -> dict:
    for key in ("event", "exception"):
        value = event_dict.get(key)
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


# --- Formatting ----------------------------------------------------------------------------------


_LEADING_KEYS = ("timestamp", "level", "logger", MESSAGE_KEY, "process", "service")


def _json_dumps(event_dict: dict, **options: Any) -> str:
    """One line, the keys every line has first and a traceback last, for a reader scanning a file."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    if "exception" in ordered:
        ordered["exception"] = ordered.pop("exception")
    return orjson.dumps(ordered, default=str).decode()


def _shared_processors() -> list:
    """Applied to every line, from the standard library's logging and from structlog alike."""
    return [
        merge_contextvars,
        structlog.stdlib.ExtraAdder(EXTRA_FIELDS),
        add_process,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def add_severity(logger, method_name: str, event_dict: dict) -> dict:
    """Google Cloud Logging reads a JSON line's level from ``severity`` (without it, every line on stderr
    shows as an error on GKE); other collectors ignore it."""
    event_dict["severity"] = str(event_dict.get("level", "")).upper()
    return event_dict


def _rendering_processors(log_format: str) -> list:
    extra = []
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
        extra = [add_severity]
    else:
        # No colors where the output is a file (the launcher's <name>.log, a container's log).
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), event_key=MESSAGE_KEY, pad_event_to=40, sort_keys=False
        )
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        # A traceback as one string: in JSON one line still; never a frame's local variables.
        structlog.processors.format_exc_info,
        redact_personal_data,
        structlog.processors.EventRenamer(MESSAGE_KEY),
        *extra,
        renderer,
    ]


def structured_formatter(log_format: str = "console") -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler (``LOGGING["formatters"]``, via dictConfig's ``()``).

    Also points structlog's own loggers (``structlog.get_logger()``) at the standard library's
    handlers, so that a line from either API comes out the same, and Python's warnings there.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {LOG_FORMATS}, not {log_format!r}")
    # Python's warnings as lines too (a Celery worker started as root warns before it sets up its
    # logging): else they are raw multi-line text on stderr.
    logging.captureWarnings(True)
    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=_rendering_processors(log_format))


def gunicorn_logconfig(logging_settings: dict) -> dict:
    """gunicorn's ``logconfig_dict``: Django's LOGGING, with gunicorn's error and access logs in it.

    So the master's lines (workers booted, exited, timed out) look like every other line; the
    access log, when gunicorn's ``accesslog`` turns it on, too.
    """
    handlers = list(logging_settings["root"]["handlers"])
    loggers = {
        **logging_settings.get("loggers", {}),
        "gunicorn.error": {"level": "INFO", "handlers": handlers, "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": handlers, "propagate": False},
    }
    return {**logging_settings, "loggers": loggers}


def celery_setup_logging(loglevel: int | None = None, **signal: Any) -> None:
    """Celery's ``setup_logging`` signal: keep Django's LOGGING (its handlers, its format).

    Connected, Celery adds no handler of its own, leaves the task logger propagating and does
    not redirect stdout into log lines; the worker's ``--loglevel`` still sets the root level.
    """
    if not logging.getLogger().handlers:  # a worker started without Django's setup
        from logging.config import dictConfig

        from django.conf import settings

        dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


# --- What is being handled -----------------------------------------------------------------------


def event_fields(
    *, event_id: Any = None, event_type: Any = None, topic: Any = None, correlation_id: Any = None
) -> dict[str, str]:
    """The event fields a line carries (as ``extra=`` or bound), without the empty ones."""
    fields = {"event_id": event_id, "event_type": event_type, "topic": topic, "correlation_id": correlation_id}
    return {key: str(value) for key, value in fields.items() if value}


class bound:
    """``with bound(event_id=...):`` the lines logged inside carry these fields; afterwards the
    context is as it was (tokens, not a copy of the context: a few hundred nanoseconds a field)."""

    __slots__ = ("fields", "tokens")

    def __init__(self, **fields: Any):
        self.fields = fields
        self.tokens: Any = None

    def __enter__(self) -> None:
        self.tokens = bind_contextvars(**self.fields)

    def __exit__(self, *exc_info: object) -> None:
        reset_contextvars(**self.tokens)


def bind_correlation_id(correlation_id: Any) -> None:
    """The rest of this request's (or handled event's) lines carry ``correlation_id``, unless one is
    bound already: a handler's lines keep the correlation id of the event it handles. Outside a
    request or an event (a command, which may record many sagas' events) nothing is bound."""
    if not correlation_id:
        return
    context = get_contextvars()
    if context.get("correlation_id") is None and ("request_id" in context or "event_id" in context):
        bind_contextvars(correlation_id=str(correlation_id))
