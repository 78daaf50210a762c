"""Log lines as the platform writes them in production (LOG_FORMAT=json), captured for a test."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator

from shop.observability.logging import structured_formatter


@contextlib.contextmanager
def json_lines(*logger_names: str, level: int = logging.DEBUG) -> Iterator[list[dict]]:
    """The lines the named loggers emit inside the block, each parsed from its JSON (filled at exit).

    A handler with the production formatter on each logger, at ``level``: what the line would be,
    whatever the test settings' own handler does with it.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structured_formatter("json"))
    loggers = [logging.getLogger(name) for name in logger_names or [""]]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(level)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(previous)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())
