"""Cobra-style argv handling: persistent flags anywhere, pflag bools, shorthand values."""

from __future__ import annotations

import pytest

from brickyard.cli.argv import split_argv
from brickyard.cli.heketi_cli import cli
from brickyard.cli.params import CobraUsageError


def test_globals_are_taken_out_anywhere() -> None:
    flags, args = split_argv(
        cli,
        ["volume", "-s", "http://h:1", "list", "--user=admin", "--secret", "k", "--json", "-I"],
    )
    assert args == ["volume", "list"]
    assert (flags.server, flags.user, flags.secret, flags.json, flags.insecure_tls) == (
        "http://h:1",
        "admin",
        "k",
        True,
        True,
    )


def test_tls_certs_repeat_and_comma_lists() -> None:
    flags, args = split_argv(cli, ["-C", "a.pem,b.pem", "cluster", "list", "--tls-cert=c.pem"])
    assert flags.tls_certs == ["a.pem", "b.pem", "c.pem"]
    assert args == ["cluster", "list"]


def test_a_local_flag_shadows_the_persistent_one() -> None:
    flags, args = split_argv(cli, ["topology", "load", "--json", "t.json", "--json=x"])
    assert args == ["topology", "load", "--json=t.json", "--json=x"]
    assert flags.json is False
    _, args = split_argv(cli, ["--json", "topology", "load", "-j", "t.json"])
    assert args == ["topology", "load", "--json=t.json"]


def test_pflag_bools_are_normalised() -> None:
    _, args = split_argv(cli, ["cluster", "create", "--block", "--file=false"])
    assert args == ["cluster", "create", "--block=true", "--file=false"]
    _, args = split_argv(cli, ["node", "settags", "-e", "id", "a:b"])
    assert args == ["node", "settags", "--exact=true", "id", "a:b"]
    _, args = split_argv(cli, ["node", "settags", "-e=false", "id", "a:b"])
    assert args == ["node", "settags", "--exact=false", "id", "a:b"]


def test_value_flags_keep_their_value_even_if_it_looks_like_a_flag() -> None:
    flags, args = split_argv(cli, ["volume", "create", "--name", "--json", "--size", "1"])
    assert args == ["volume", "create", "--name=--json", "--size=1"]
    assert flags.json is False


def test_aliases_resolve_subcommands() -> None:
    _, args = split_argv(cli, ["device", "deltags", "x", "--all"])
    assert args == ["device", "deltags", "x", "--all=true"]


def test_double_dash_ends_flag_processing() -> None:
    flags, args = split_argv(cli, ["volume", "info", "--", "--json"])
    assert args == ["volume", "info", "--", "--json"]
    assert flags.json is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["volume", "list", "--server"], "flag needs an argument: --server"),
        (["volume", "list", "-s"], "flag needs an argument: 's' in -s"),
        (
            ["--json=maybe"],
            'invalid argument "maybe" for "--json" flag: strconv.ParseBool: '
            'parsing "maybe": invalid syntax',
        ),
    ],
)
def test_bad_global_flags(argv: list[str], message: str) -> None:
    with pytest.raises(CobraUsageError) as error:
        split_argv(cli, argv)
    assert error.value.message == message
