"""Command / CommandBatch / to_shell basics."""

from __future__ import annotations

import shlex

import pytest

from brickyard.nodes.commands.argv import (
    Command,
    CommandBatch,
    Outcome,
    batch,
    check_abs_path,
    check_arg,
    check_id,
    minutes,
    to_shell,
    with_sudo,
)


def test_command_normalises_and_is_hashable() -> None:
    cmd = Command(["ls", "-l"], 5, ok_exit_codes={0, 1}, tolerate=["x"])  # type: ignore[arg-type]
    assert cmd.argv == ("ls", "-l")
    assert cmd.timeout == 5.0
    assert cmd.ok_exit_codes == frozenset({0, 1})
    assert cmd.tolerate == ("x",)
    assert cmd.program == "ls"
    assert hash(cmd) == hash(Command(("ls", "-l"), 5, frozenset({0, 1}), ("x",)))
    assert cmd == Command(("ls", "-l"), 5.0, frozenset({0, 1}), ("x",))


@pytest.mark.parametrize(
    "argv",
    [(), ("",), ("ls", "a\x00b")],
)
def test_command_rejects_bad_argv(argv: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        Command(argv, 1)


def test_command_rejects_string_argv_and_non_str() -> None:
    with pytest.raises(TypeError):
        Command("ls -l", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Command(("ls", 3), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Command(("cat",), 1, stdin="text")  # type: ignore[arg-type]


def test_command_rejects_bad_timeout_and_pattern() -> None:
    with pytest.raises(ValueError):
        Command(("ls",), 0)
    with pytest.raises(ValueError):
        Command(("ls",), 1, tolerate=("(",))


def test_outcome() -> None:
    cmd = Command(("lvremove", "x"), 1, tolerate=("not found", "failed to find"))
    assert cmd.outcome(0, "anything") is Outcome.OK
    assert cmd.outcome(5, '  Failed to find logical volume "vg/x"') is Outcome.TOLERATED
    assert cmd.outcome(5, "Volume group NOT FOUND") is Outcome.TOLERATED
    assert cmd.outcome(5, "device busy") is Outcome.FAILED
    assert cmd.succeeded(5, "not found")
    assert not cmd.succeeded(1, "")
    rc1 = Command(("findmnt",), 1, ok_exit_codes=frozenset({0, 1}))
    assert rc1.outcome(1) is Outcome.OK
    assert rc1.outcome(2) is Outcome.FAILED


def test_batch_flattens_and_skips_none() -> None:
    a, b, c = (Command((n,), 1) for n in ("a", "b", "c"))
    out = batch(a, None, CommandBatch((b,)), [c])
    assert out.argvs == [("a",), ("b",), ("c",)]
    assert len(out) == 3
    assert out[1] is b
    assert list(out) == [a, b, c]
    assert (out + a).argvs[-1] == ("a",)
    with pytest.raises(TypeError):
        CommandBatch(("a",))  # type: ignore[arg-type]


def test_batch_first_failure() -> None:
    out = batch(Command(("a",), 1), Command(("b",), 1, tolerate=("gone",)), Command(("c",), 1))
    assert out.first_failure([(0, ""), (1, "it is gone"), (0, "")]) is None
    assert out.first_failure([(0, ""), (1, "busy")]) == 1
    assert out.first_failure([(0, ""), (0, ""), (2, "")]) == 2
    assert out.first_failure([]) is None


def test_to_shell_quotes_and_sudo() -> None:
    argv = ("tee", "-a", "/etc/my fstab", "it's", "$HOME", "")
    line = to_shell(argv)
    assert line == "tee -a '/etc/my fstab' 'it'\"'\"'s' '$HOME' ''"
    assert shlex.split(line) == list(argv)
    assert to_shell(("ls",), sudo=True) == "sudo -n ls"
    assert with_sudo(("ls", "-l")) == ("sudo", "-n", "ls", "-l")
    assert Command(("a b",), 1).shell(sudo=True) == "sudo -n 'a b'"
    assert str(Command(("echo", "x y"), 1)) == "echo 'x y'"
    with pytest.raises(TypeError):
        to_shell("ls")
    with pytest.raises(ValueError):
        to_shell(())
    with pytest.raises(ValueError):
        to_shell(("a\x00",))


def test_checks() -> None:
    assert check_id("3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f") == "3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f"
    for bad in ("", "-x", "a/b", "a.b", "a b", "a\x00"):
        with pytest.raises(ValueError):
            check_id(bad)
    assert check_abs_path("/dev/sdb") == "/dev/sdb"
    for bad in ("dev/sdb", "", "/a\x00"):
        with pytest.raises(ValueError):
            check_abs_path(bad)
    assert check_arg("10.0.0.1") == "10.0.0.1"
    for bad in ("", "-x", "a b", "a\tb", "a\x00"):
        with pytest.raises(ValueError):
            check_arg(bad)
    assert minutes(5) == 300.0
