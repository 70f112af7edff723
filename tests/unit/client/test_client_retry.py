"""Retries on ``429 Server busy`` at least as patient as Heketi's Go client.

Heketi's client (client/api/go-client/client.go, retryOperationDo) makes up to 6 retries
(RETRY_COUNT), each after ``rand.Intn(MAX_DELAY-MIN_DELAY) + MIN_DELAY`` = 10 to 29 s, and
sleeps once more after the last 429 before it returns the error: it gives up at most
6 x 29 = 174 s after its first request for the last retry, and 203 s for the error.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import httpx
import pytest

from brickyard.cli.heketi_cli import main
from brickyard.cli.session import CliError, retry_backoff
from brickyard.client import Backoff, HeketiClient, HeketiError, protocol
from brickyard.client.protocol import Pause
from fake_clock import FakeClock

BUSY = "Server busy. Retry operation later."
HEKETI_RETRIES = 6
HEKETI_LAST_RETRY = 6 * 29
HEKETI_GIVES_UP = 7 * 29
NOTICE = re.compile(r"^server busy \(429\), retrying in \d+(\.\d)? s \(attempt \d+, \d+ s left\)$")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(protocol, "clock", fake)
    yield fake


def always_busy(clock: FakeClock, attempts: list[float]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(clock.now)
        return httpx.Response(429, content=(BUSY + "\n").encode())

    return httpx.MockTransport(handler)


def schedule(clock: FakeClock, backoff: Backoff) -> list[float]:
    """When each attempt was made, against a server that never stops being busy."""
    attempts: list[float] = []
    transport = always_busy(clock, attempts)
    client = HeketiClient(
        "http://heketi", "admin", "k", backoff=backoff, transport=transport, sleep=clock.sleep
    )
    with pytest.raises(HeketiError) as error:
        client.volume_delete("a" * 32)
    assert (error.value.status, error.value.message) == (429, BUSY)
    return [t - attempts[0] for t in attempts]


@pytest.mark.parametrize("seed", range(50))
def test_default_schedule_is_at_least_heketis(clock: FakeClock, seed: int) -> None:
    clock.sleeps.clear()
    times = schedule(clock, Backoff(jitter=random.Random(seed).uniform))
    waits = clock.sleeps
    assert len(waits) >= HEKETI_RETRIES + 2  # 240 s of waits of at most 30 s
    assert all(10.0 <= w <= 30.0 for w in waits[:-1])  # the last one ends at the deadline
    assert 0 < waits[-1] <= 30.0
    assert times[-1] == pytest.approx(240.0)
    assert times[-1] > HEKETI_GIVES_UP > HEKETI_LAST_RETRY


def test_waits_are_jittered(clock: FakeClock) -> None:
    first = schedule(clock, Backoff(jitter=random.Random(1).uniform))
    second = schedule(clock, Backoff(jitter=random.Random(2).uniform))
    assert first != second
    assert len(set(clock.sleeps)) > len(clock.sleeps) // 2


def test_the_default_uses_the_random_module(clock: FakeClock) -> None:
    random.seed(7)
    first = schedule(clock, Backoff())
    random.seed(7)
    assert schedule(clock, Backoff()) == first


def test_retry_after_is_honoured_plus_jitter() -> None:
    backoff = Backoff(jitter=lambda low, high: high)
    assert backoff.retry_delay(Pause("retry", 0, retry_after=3.0)) == 13.0
    assert backoff.retry_delay(Pause("retry", 0)) == 30.0


def test_deadline_and_attempts() -> None:
    backoff = Backoff(retry_timeout=100.0, jitter=lambda low, high: high)
    assert backoff.retry_delay(Pause("retry", 5, elapsed=90.0)) == 10.0  # up to the deadline
    assert backoff.retry_delay(Pause("retry", 6, elapsed=100.0)) is None
    assert Backoff(retry_attempts=2).retry_delay(Pause("retry", 2)) is None
    assert Backoff(retry_timeout=None).retry_delay(Pause("retry", 99, elapsed=1e9)) is not None
    assert Backoff(retry_timeout=0.0).retry_delay(Pause("retry", 0)) is None


def test_notice() -> None:
    backoff = Backoff()
    line = backoff.notice(Pause("retry", 1, elapsed=20.0), 14.2)
    assert line == "server busy (429), retrying in 14 s (attempt 3, 206 s left)"
    assert NOTICE.match(line)
    assert NOTICE.match(backoff.notice(Pause("retry", 0), 1.25))
    assert Backoff(retry_timeout=None).notice(Pause("retry", 0), 12) == (
        "server busy (429), retrying in 12 s (attempt 2)"
    )


def test_each_wait_is_announced_but_no_poll(clock: FakeClock) -> None:
    replies = [httpx.Response(429, content=BUSY.encode())] * 2 + [
        httpx.Response(202, headers={"Location": "/queue/q"}),
        httpx.Response(200, headers={"X-Pending": "true"}),
        httpx.Response(204),
    ]
    lines: list[str] = []
    client = HeketiClient(
        "http://heketi",
        "admin",
        "k",
        notify=lines.append,
        transport=httpx.MockTransport(lambda request: replies.pop(0)),
        sleep=clock.sleep,
    )
    client.volume_delete("a" * 32)
    assert len(lines) == 2 and all(NOTICE.match(line) for line in lines)
    assert ["attempt 2," in lines[0], "attempt 3," in lines[1]] == [True, True]


# --- heketi-cli ---------------------------------------------------------------------------


def test_cli_settings_from_the_environment() -> None:
    assert retry_backoff({}) == Backoff()
    tuned = retry_backoff({"BRICKYARD_CLI_RETRY_TIMEOUT": "600", "BRICKYARD_CLI_RETRY_WAIT": "1-3"})
    assert (tuned.retry_timeout, tuned.retry_min, tuned.retry_max) == (600.0, 1.0, 3.0)
    assert retry_backoff({"BRICKYARD_CLI_RETRY_WAIT": "5"}).retry_max == 5.0
    for env in (
        {"BRICKYARD_CLI_RETRY_TIMEOUT": "soon"},
        {"BRICKYARD_CLI_RETRY_TIMEOUT": "-1"},
        {"BRICKYARD_CLI_RETRY_TIMEOUT": "inf"},
        {"BRICKYARD_CLI_RETRY_WAIT": "3-1"},
        {"BRICKYARD_CLI_RETRY_WAIT": "a-b"},
    ):
        with pytest.raises(CliError):
            retry_backoff(env)


def test_cli_waits_on_stderr_and_prints_only_its_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    replies = [httpx.Response(429, content=BUSY.encode())] * 3 + [
        httpx.Response(202, headers={"Location": "/queue/q"}),
        httpx.Response(204),
    ]
    volume = "a" * 32
    code = main(
        ["volume", "delete", volume],
        env={"BRICKYARD_CLI_RETRY_WAIT": "0.01-0.02"},
        transport=httpx.MockTransport(lambda request: replies.pop(0)),
    )
    out, err = capsys.readouterr()
    assert (code, out) == (0, f"Volume {volume} deleted\n")
    lines = err.splitlines()
    assert len(lines) == 3 and all(NOTICE.match(line) for line in lines), err


def test_cli_bad_setting_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["volume", "list"], env={"BRICKYARD_CLI_RETRY_WAIT": "x"})
    assert code == 255
    assert capsys.readouterr().err == (
        "Error: BRICKYARD_CLI_RETRY_WAIT: 'x' is not a number of seconds\n"
    )
