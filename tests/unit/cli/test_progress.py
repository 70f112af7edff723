"""The progress line of the CLI (cli/progress.py) on a fake terminal with a fake clock."""

from __future__ import annotations

import io
import itertools

import pytest

from brickyard.cli import progress
from brickyard.cli.argv import split_argv
from brickyard.cli.heketi_cli import cli
from brickyard.cli.progress import Progress, Task, format_elapsed, progress_wanted, render_line
from fake_clock import FakeClock
from terminal import last_screen_line


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _line(
    clock: FakeClock, out: io.StringIO | None = None, width: int = 80
) -> tuple[Progress, FakeTty, io.StringIO]:
    err = FakeTty()
    stdout = out if out is not None else io.StringIO()
    line = Progress(err, stdout, clock=clock, sleep=clock.sleep, columns=lambda: width)
    return line, err, stdout


@pytest.mark.parametrize(
    ("stream", "env", "flag", "wanted"),
    [
        (FakeTty(), {}, False, True),
        (FakeTty(), {"TERM": "xterm-256color"}, False, True),
        (io.StringIO(), {}, False, False),  # a pipe or a file
        (FakeTty(), {"TERM": "dumb"}, False, False),
        (FakeTty(), {progress.NO_PROGRESS_ENV: "1"}, False, False),
        (FakeTty(), {progress.NO_PROGRESS_ENV: "0"}, False, True),
        (FakeTty(), {}, True, False),
    ],
)
def test_drawn_only_for_a_terminal_that_wants_it(
    stream: io.StringIO, env: dict[str, str], flag: bool, wanted: bool
) -> None:
    assert progress_wanted(stream, env, flag) is wanted


def test_no_progress_flag_is_taken_anywhere_on_the_command_line() -> None:
    flags, args = split_argv(cli, ["volume", "--no-progress", "create", "--size=1"])
    assert flags.no_progress and args == ["volume", "create", "--size=1"]
    flags, _ = split_argv(cli, ["volume", "list"])
    assert not flags.no_progress


def test_elapsed_formats() -> None:
    assert format_elapsed(4.24) == "4.2 s"
    assert format_elapsed(187.0) == "3m07s"
    assert format_elapsed(3 * 3600 + 120) == "3h02m"


def test_line_with_counts_detail_and_elapsed() -> None:
    task = Task("Loading topology", 0.0, total=8, done=3, unit="nodes", detail="node n4")
    text = render_line(task, 12.34, 120)
    assert text == "Loading topology [#######-------------] 3 of 8 nodes - node n4  12.3 s"


def test_line_without_counts_spins() -> None:
    task = Task("Creating volume (1 GiB)", 0.0)
    frames = {render_line(task, 1.0, 80, spin) for spin in range(4)}
    assert len(frames) == 4
    assert all(f.startswith("Creating volume (1 GiB) ") and f.endswith("  1.0 s") for f in frames)


def test_line_never_wraps_and_keeps_the_elapsed_time() -> None:
    task = Task("Evacuating node " + "f" * 32, 0.0, total=12, done=5, unit="bricks")
    for width in (20, 40, 60, 200):
        text = render_line(task, 75.0, width)
        assert len(text) <= width - 1
        assert text.endswith("1m15s")
    # the counts and the time are kept whole; the detail goes first, then the label is cut
    task.detail = "brick b7 of volume " + "e" * 32
    text = render_line(task, 75.0, 80)
    assert len(text) == 79 and "volume" not in text
    assert text.startswith("Evacuating node fff") and "...  [" not in text
    assert text.endswith("... [########------------] 5 of 12 bricks  1m15s")
    wide = render_line(task, 75.0, 120)
    assert len(wide) == 119
    assert wide.startswith("Evacuating node " + "f" * 32 + " [")
    assert wide.endswith(" 5 of 12 bricks - brick b7 of volume e...  1m15s")


def test_failure_line_says_so() -> None:
    task = Task("Creating volume (1 GiB)", 0.0)
    assert render_line(task, 3.0, 80, outcome="failed") == (
        "Creating volume (1 GiB): failed after 3.0 s"
    )


def test_short_waits_show_nothing() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    with line.task("Creating volume"):
        line.sleep(progress.SHOW_AFTER / 2)
    assert err.getvalue() == ""


def test_long_wait_redraws_about_ten_times_a_second_then_wipes_itself() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    with line.task("Creating volume"):
        for _ in range(200):  # 200 polls in 2 s: each one asks for a redraw
            line.sleep(0.01)
    written = err.getvalue()
    draws = written.count("\r") - 2  # the wipe is "\r<spaces>\r"
    # shown after SHOW_AFTER, then at most one draw per REDRAW_INTERVAL
    assert 10 <= draws <= (2.0 - progress.SHOW_AFTER) / progress.REDRAW_INTERVAL + 1
    assert "Creating volume" in written
    assert last_screen_line(written) == ""  # success: nothing left on the line
    assert "\n" not in written


def test_sleep_redraws_during_one_long_sleep() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    line.start("Waiting for the server")
    line.sleep(1.0)
    # the sleep is cut into slices so that the elapsed time moves on the screen
    assert max(clock.sleeps) <= progress.REDRAW_INTERVAL + 1e-9
    assert sum(clock.sleeps) == pytest.approx(1.0)
    assert last_screen_line(err.getvalue()).endswith("1.0 s")


def test_failure_leaves_the_last_state_on_its_own_line() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock, width=120)
    with pytest.raises(RuntimeError), line.task("Loading topology", total=3, unit="nodes"):
        line.update(done=1, detail="node n2")
        line.sleep(1.0)
        raise RuntimeError("boom")
    written = err.getvalue()
    assert written.endswith(
        "\rLoading topology [######--------------] 1 of 3 nodes - node n2: failed after 1.0 s\n"
    )


def test_a_failure_before_the_line_was_shown_adds_nothing() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    with pytest.raises(RuntimeError), line.task("Creating volume"):
        raise RuntimeError("quick")
    assert err.getvalue() == ""


def test_stdout_bytes_are_unchanged_and_half_lines_wait_for_their_end() -> None:
    clock = FakeClock()
    stdout = FakeTty()  # the same terminal: a half line would be drawn over
    line, err, _ = _line(clock, stdout)
    pieces = ["Creating cluster ... ", "ID: c1\n", "\tCreating node n1 ... "]
    with line.task("Loading topology", total=1, unit="nodes"):
        line.write_out(pieces[0])
        assert stdout.getvalue() == ""  # held while the line may be drawn
        line.sleep(0.5)
        line.write_out(pieces[1])
        assert stdout.getvalue() == "Creating cluster ... ID: c1\n"
        line.write_out(pieces[2])
        line.sleep(0.5)
    line.close()
    assert stdout.getvalue() == "".join(pieces)
    assert err.getvalue().count("Loading topology") >= 2


def test_stdout_elsewhere_is_written_at_once() -> None:
    clock = FakeClock()
    stdout = io.StringIO()  # a pipe: no line is drawn there
    line, _, _ = _line(clock, stdout)
    with line.task("Loading topology"):
        line.write_out("Creating cluster ... ")
        assert stdout.getvalue() == "Creating cluster ... "


def test_nothing_is_drawn_over_a_half_line_left_on_the_terminal() -> None:
    clock = FakeClock()
    stdout = FakeTty()
    line, err, _ = _line(clock, stdout)
    line.write_out("half a line")
    line.close()  # the invocation ends: the half line is written
    before = err.getvalue()
    line.start("Waiting")
    line.sleep(1.0)
    assert err.getvalue() == before


def test_stderr_messages_wipe_the_line_first() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    line.start("Deleting volume")
    line.sleep(0.5)
    line.write_err("server busy (429), retrying in 14 s\n")
    written = err.getvalue()
    shown, _, after = written.rpartition("server busy")
    assert last_screen_line(shown) == ""  # the line was gone when the message came
    assert after == " (429), retrying in 14 s\n"


def test_probe_runs_at_most_once_a_second_and_updates_counts() -> None:
    clock = FakeClock()
    line, err, _ = _line(clock)
    calls: list[float] = []

    def probe(task: Task) -> None:
        calls.append(clock.now)
        line.update(done=len(calls))

    with line.task("Removing node n1", total=10, unit="bricks", probe=probe):
        for _ in range(35):
            line.sleep(0.1)
        assert last_screen_line(err.getvalue()).startswith("Removing node n1 [######")
    assert len(calls) == 3
    assert all(b - a >= progress.PROBE_INTERVAL - 1e-9 for a, b in itertools.pairwise(calls))


def test_disabled_progress_only_sleeps() -> None:
    clock = FakeClock()
    stdout = io.StringIO()
    line = Progress(None, stdout, clock=clock, sleep=clock.sleep)
    with line.task("Creating volume", total=3):
        line.update(done=1)
        line.sleep(2.5)
    line.write_out("text")
    assert clock.sleeps == [2.5]
    assert stdout.getvalue() == "text"


def test_output_lines_do_not_raise_the_redraw_rate() -> None:
    clock = FakeClock()
    line, err, stdout = _line(clock, FakeTty())
    line.start("Loading topology", total=100, unit="nodes")
    clock.now += progress.SHOW_AFTER
    for done in range(100):  # 100 nodes in one second, one stdout line and one update each
        line.write_out(f"\tCreating node n{done} ... ID: x\n")
        line.update(done=done + 1)
        clock.now += 0.01
    drawn = [part for part in err.getvalue().split("\r") if part.strip()]
    assert 5 <= len(drawn) <= 1.0 / progress.REDRAW_INTERVAL + 1
    assert stdout.getvalue().count("\n") == 100
