"""logs.py: the formatters (one line each, text and JSON), the options, the levels, and the
scrubbing of secrets from free-form lines."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from brickyard import logs
from brickyard.api.routes.admin import apply_log_level
from brickyard.logs import AccessEntry, JsonFormatter, LogOptions, StepEntry, TextFormatter


def record(msg: object, *args: object, name: str = "brickyard.access") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, "", 0, msg, args, None)


ACCESS = AccessEntry("POST", "/volumes", 202, 1.23456, "10.0.0.5:41000", "ab12cd34-1f")
STEP = StepEntry("create-volume", "f" * 32, "brick-made", "ok", 12.5, "ab12cd34-1f", "n=3")


def test_text_access_line() -> None:
    line = TextFormatter().format(record(ACCESS))
    assert "\n" not in line
    assert line.startswith("[brickyard] INFO 2")
    assert line.endswith(" POST /volumes 202 1.23ms peer=10.0.0.5:41000 req=ab12cd34-1f")


def test_text_step_line() -> None:
    line = TextFormatter().format(record(STEP, name="brickyard.operations"))
    assert line.endswith(
        f"operation create-volume {'f' * 32} brick-made ok 12.50ms req=ab12cd34-1f n=3"
    )


def test_text_line_of_another_library_names_it() -> None:
    line = TextFormatter().format(record("channel opened", name="asyncssh.connection"))
    assert line.startswith("[asyncssh] INFO ")


def test_json_access_line_has_the_fields() -> None:
    line = JsonFormatter().format(record(ACCESS))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "request"
    assert parsed["method"] == "POST"
    assert parsed["path"] == "/volumes"
    assert parsed["status"] == 202
    assert parsed["duration_ms"] == 1.235
    assert parsed["peer"] == "10.0.0.5:41000"
    assert parsed["request_id"] == "ab12cd34-1f"
    assert parsed["level"] == "info"
    assert parsed["logger"] == "brickyard.access"
    assert parsed["time"].endswith("Z")
    assert parsed["msg"] == str(ACCESS)


def test_json_step_line_has_the_fields() -> None:
    parsed = json.loads(JsonFormatter().format(record(STEP, name="brickyard.operations")))
    assert parsed["event"] == "step"
    assert parsed["operation"] == "create-volume"
    assert parsed["operation_id"] == "f" * 32
    assert parsed["step"] == "brick-made"
    assert parsed["outcome"] == "ok"
    assert parsed["duration_ms"] == 12.5
    assert parsed["request_id"] == "ab12cd34-1f"
    assert parsed["detail"] == "n=3"


def test_json_traceback_stays_on_the_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = logging.LogRecord("brickyard", logging.ERROR, "", 0, "crashed", (), sys.exc_info())
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_newline_sent_by_a_client_makes_no_line_of_its_own(formatter: logging.Formatter) -> None:
    hostile = AccessEntry("GET", "/volumes/x\n[brickyard] INFO fake", 404, 0.1, "-", "r-1")
    assert "\n" not in formatter.format(record(hostile))
    assert "\n" not in formatter.format(record("name %s", "a\r\nb"))


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: bearer eyJhbGciOi.eyJpc3MiOiJ.c2lnbmF0dXJl", "eyJhbGciOi"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhZG1pbiJ9.sig-nature_x", "eyJpc3MiOiJhZG1pbiJ9"),
        ("connect postgresql://brickyard:hunter2@db.example/heketi failed", "hunter2"),
        ("GET /clusters?token=abc123&x=1", "abc123"),
        ("key -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END", "b3BlbnNzaC1rZXk"),
        ("jwt secret=My-Secret configured", "My-Secret"),
    ],
)
def test_free_form_lines_are_scrubbed(text: str, secret: str) -> None:
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record("%s", text, name="brickyard"))
        assert secret not in line
        assert "***" in line


def test_a_database_url_keeps_its_host() -> None:
    assert logs.redact("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"


def test_options_flag_over_environment_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.ENV_FORMAT, raising=False)
    monkeypatch.delenv(logs.ENV_THIRD_PARTY, raising=False)
    assert LogOptions.resolve(None, None) == LogOptions("text", "warning")
    monkeypatch.setenv(logs.ENV_FORMAT, "JSON")
    monkeypatch.setenv(logs.ENV_THIRD_PARTY, "debug")
    assert LogOptions.resolve(None, None) == LogOptions("json", "debug")
    assert LogOptions.resolve("text", "info") == LogOptions("text", "info")
    with pytest.raises(ValueError, match="log format 'xml'"):
        LogOptions.resolve("xml", None)
    with pytest.raises(ValueError, match="third-party log level 'loud'"):
        LogOptions.resolve(None, "loud")


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """logs.configure on a buffer; the root logger and brickyard's level put back after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("brickyard").level)
    stream = io.StringIO()
    logs.configure(LogOptions("text", "warning"), stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.getLogger("brickyard").setLevel(saved[2])


def test_third_party_info_is_dropped_brickyard_info_is_kept(configured: io.StringIO) -> None:
    logging.getLogger("asyncssh").info("[conn=0, chan=1] Requesting new SSH session")
    logging.getLogger("asyncssh").warning("host key changed")
    logs.step("create-volume", "a" * 32, "planned", "ok", 1.0)
    lines = configured.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[asyncssh] WARNING")
    assert "operation create-volume" in lines[1]


def test_the_loglevel_setting_still_governs_brickyard_lines(configured: io.StringIO) -> None:
    apply_log_level("warning")  # what POST /internal/logging does
    logs.step("create-volume", "a" * 32, "planned", "ok", 1.0)
    assert configured.getvalue() == ""
    apply_log_level("info")
    logs.step("create-volume", "a" * 32, "planned", "ok", 1.0)
    assert "planned ok" in configured.getvalue()


def test_a_step_carries_the_request_that_started_it(configured: io.StringIO) -> None:
    token = logs.REQUEST_ID.set("feed0001-2a")
    try:
        logs.step("create-volume", "a" * 32, "planned", "ok", 1.0)
    finally:
        logs.REQUEST_ID.reset(token)
    assert configured.getvalue().rstrip().endswith("req=feed0001-2a")


def test_request_ids_differ() -> None:
    first, second = logs.new_request_id(), logs.new_request_id()
    assert first != second
    assert first.split("-")[0] == second.split("-")[0]  # this process's prefix


def test_an_event_record_serves_any_handler() -> None:
    """Another handler (pytest's, an admin's own) formats an event with the usual fields."""
    record = logs.EventRecord("brickyard.access", logging.INFO, ACCESS)
    standard = logging.Formatter("%(filename)s:%(lineno)d %(thread)s %(levelname)s %(message)s")
    assert standard.format(record) == f":0 None INFO {ACCESS}"


def test_serve_passes_its_log_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from brickyard.cli import serve as serve_module

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(serve_module, "run_server", lambda *args: calls.append(args) or 0)
    runner = CliRunner()
    done = runner.invoke(serve_module.serve, ["--log-format", "JSON", "--log-third-party=debug"])
    assert done.exit_code == 0, done.output
    assert calls == [(None, False, "json", "debug")]
    refused = runner.invoke(serve_module.serve, ["--log-format", "xml"])
    assert refused.exit_code == 2


def test_a_step_detail_is_scrubbed(configured: io.StringIO) -> None:
    """A failed step's detail is an error's text, which may quote what it was given."""
    logs.step("create-volume", "a" * 32, "execute", "failed", 1.0, "db postgresql://u:pw9@h/x")
    assert "pw9" not in configured.getvalue()
    assert "postgresql://u:***@h/x" in configured.getvalue()


def test_the_listening_message_is_a_json_line_at_any_level(configured: io.StringIO) -> None:
    logs.configure(LogOptions("json", "warning"), configured)
    apply_log_level("warning")
    logs.announce(LogOptions("json", "warning"), "Listening on port 8080")
    assert json.loads(configured.getvalue())["msg"] == "Listening on port 8080"
