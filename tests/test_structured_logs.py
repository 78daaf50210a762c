"""The log lines of real processes: JSON under LOG_FORMAT=json, readable by default, the same keys everywhere."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from shop.observability import logging as observability_logging
from shop.observability.logging import bound, redact, set_process, structured_formatter
from testsupport.logs import json_lines

REQUIRED = {"timestamp", "level", "logger", "message", "process"}

# Lines from each kind of logger a process has: our own, Django's, Celery's, structlog's, a warning.
LOGGING_PROBE = """
import logging, warnings, django
django.setup()
import structlog
from shop.celery import app
logging.getLogger("apps.probe").info("ours %s", "formatted", extra={"event_id": "e-1", "payload": "never shown"})
logging.getLogger("django.request").warning("Not Found: /x")
logging.getLogger("celery.app.trace").info("Task cart.handle_event[1] succeeded in 0.01s: 'processed'")
structlog.get_logger("apps.native").info("native", order_id="o-1")
try:
    raise ValueError("for somebody@example.com")
except ValueError:
    logging.getLogger("apps.probe").exception("failed")
"""


def run(probe: str, settings_module: str = "shop.settings.test", **environment: str) -> subprocess.CompletedProcess:
    """``probe`` in a process of its own; LOG_FORMAT only if given (not this run's own)."""
    env = {name: value for name, value in os.environ.items() if name != "LOG_FORMAT"}
    env.update(DJANGO_SETTINGS_MODULE=settings_module, **environment)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60
    )


def test_under_log_format_json_every_line_is_one_json_object_with_the_required_keys():
    result = run(LOGGING_PROBE, LOG_FORMAT="json", SHOP_SERVICE="cart")

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["logger"] for line in lines] == [
        "apps.probe",
        "django.request",
        "celery.app.trace",
        "apps.native",
        "apps.probe",
    ]
    for line in lines:
        assert set(line) >= REQUIRED, line
        assert (line["process"], line["service"]) == ("command", "cart")
    ours, _, celery, native, failed = lines
    assert (ours["message"], ours["level"], ours["event_id"]) == ("ours formatted", "info", "e-1")
    assert "payload" not in ours  # only the event fields are taken from a record's extra
    assert celery["message"].endswith("'processed'")
    assert native["order_id"] == "o-1"
    assert failed["level"] == "error"
    assert (ours["severity"], failed["severity"]) == ("INFO", "ERROR")  # Cloud Logging's level
    assert "ValueError: for [email]" in failed["exception"]
    assert "somebody@example.com" not in result.stderr


def test_console_is_the_default_and_reads_as_text():
    result = run(LOGGING_PROBE)

    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert "[info" in first
    assert "ours formatted" in first
    assert "[apps.probe]" in first
    assert "event_id=e-1" in first
    assert not first.startswith("{")
    assert settings.LOG_FORMAT == "console"  # the test settings'


def test_production_defaults_to_json_and_console_can_be_asked_for():
    production = {
        "DJANGO_SECRET_KEY": "a-random-enough-secret-for-this-probe-only-0123456789-abcdefghij",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
        "CELERY_BROKER_URL": "memory://",
        "GOOGLE_CLOUD_PROJECT": "nowhere",
        "EMAIL_URL": "consolemail://",
        "DEFAULT_FROM_EMAIL": "shop@example.com",
        "AUTH_JWT_SECRET": "s" * 32,
    }
    probe = "import logging, django; django.setup(); logging.getLogger('apps.probe').warning('hello')"

    default = run(probe, "shop.settings.production", **production)
    console = run(probe, "shop.settings.production", LOG_FORMAT="console", **production)

    assert default.returncode == 0, default.stderr
    assert json.loads(default.stderr)["message"] == "hello"
    assert console.returncode == 0, console.stderr
    assert not console.stderr.startswith("{")
    assert "hello" in console.stderr


def test_an_unknown_log_format_is_refused():
    result = run("import django; django.setup()", LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be one of" in result.stderr


def test_celery_keeps_the_platforms_handler_and_stdout():
    # Celery, set up as a worker sets itself up: its own handlers unless told otherwise
    probe = """
import logging, django
django.setup()
from shop.celery import app
app.log.setup(loglevel="INFO", redirect_stdouts=True)
from celery.utils.log import get_task_logger
get_task_logger("apps.probe").info("from a task")
print("plain stdout")
"""
    result = run(probe, LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stderr.splitlines()]
    assert (line["logger"], line["message"]) == ("apps.probe", "from a task")
    assert result.stdout == "plain stdout\n"  # not turned into log lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def not_found_once_up(port: int, request_id: str) -> tuple[int, str]:
    """GET a route that does not exist, once gunicorn answers: (status, X-Request-ID returned)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/no/such/route", headers={"X-Request-ID": request_id})
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own server
                return response.status, response.headers["X-Request-ID"]
        except urllib.error.HTTPError as error:
            return error.code, error.headers["X-Request-ID"]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_and_its_workers_write_json_lines_with_the_request_id():
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings.test",
        "SHOP_SERVICE": "product",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_ACCESS_LOG": "-",
        "LOG_FORMAT": "json",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "shop/gunicorn_conf.py"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, request_id = not_found_once_up(port, "gun-1")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)

    assert (status, request_id) == (404, "gun-1")
    lines = [json.loads(line) for line in output.splitlines()]
    for line in lines:
        assert set(line) >= REQUIRED, line
        assert (line["process"], line["service"]) == ("web", "product")
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= loggers
    [not_found] = [line for line in lines if line["logger"] == "django.request"]
    [access] = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert not_found["request_id"] == access["request_id"] == "gun-1"


@pytest.fixture
def process_kind():
    saved = dict(observability_logging._process)
    yield
    observability_logging._process.clear()
    observability_logging._process.update(saved)


def test_a_process_names_its_kind_and_services_and_a_bound_service_wins(process_kind):
    set_process("worker", ["cart", "inventory", "order"])

    with json_lines("apps.probe") as lines:
        logging.getLogger("apps.probe").info("idle")
        with bound(service="inventory"):
            logging.getLogger("apps.probe").info("handling")

    assert [(line["process"], line["service"]) for line in lines] == [
        ("worker", "cart,inventory,order"),
        ("worker", "inventory"),
    ]


def test_tooling_has_no_service(process_kind):
    set_process("relay")

    with json_lines("apps.probe") as lines:
        logging.getLogger("apps.probe").info("publishing")

    assert lines[0]["process"] == "relay"
    assert "service" not in lines[0]


def test_an_unknown_process_kind_is_refused():
    with pytest.raises(ValueError, match="process kind"):
        set_process("cron")
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        structured_formatter("xml")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("SMTPRecipientsRefused: {'jane.doe+shop@mail.example.co.uk': (550, b'no')}", "{'[email]': (550, b'no')}"),
        ("DETAIL:  Key (email)=(a@b.io) already exists.", "Key (email)=([email]) already exists."),
        (
            "name\n  Input should be a valid string [type=string_type, input_value={'n': 'Jane Doe'}, input_type=dict]",
            "input_value=[redacted], input_type=dict]",
        ),
        (
            "broker amqp://guest:**@127.0.0.1:5672// and worker cart@host",
            "guest:**@127.0.0.1:5672// and worker cart@host",
        ),
    ],
)
def test_personal_data_in_library_messages_is_masked(text, shown):
    assert shown in redact(text)
