"""Cobra-style argv handling before click sees it.

heketi-cli's persistent flags (``--server/-s``, ``--user``, ``--secret``, ``--json``,
``--insecure-tls/-I``, ``--tls-cert/-C``) may appear anywhere on the command line, before or
after the subcommand; a command's own flag of the same name wins (``topology load --json=F``).
This module walks argv along the click command tree, takes the persistent flags out, and
normalises the command's own flags to forms click parses the way pflag does:
``--flag`` / ``--flag=true|false`` for bools, ``-j=F`` / ``-jF`` for short value flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import click

from brickyard.cli.params import (
    CobraBoolOption,
    CobraCommand,
    CobraGroup,
    CobraUsageError,
    GlobalOption,
    parse_go_bool,
)

__all__ = ["GlobalFlags", "split_argv"]


@dataclass
class GlobalFlags:
    """The persistent flags found on the command line (``None``: not given)."""

    server: str | None = None
    user: str | None = None
    secret: str | None = None
    json: bool = False
    insecure_tls: bool = False
    tls_certs: list[str] = field(default_factory=list)
    no_progress: bool = False  # ours: no progress line on stderr (not in --help: Heketi's)


# flag -> (attribute, kind); kind is "str", "bool" or "list"
_GLOBAL: dict[str, tuple[str, str]] = {
    "--server": ("server", "str"),
    "-s": ("server", "str"),
    "--user": ("user", "str"),
    "--secret": ("secret", "str"),
    "--json": ("json", "bool"),
    "--insecure-tls": ("insecure_tls", "bool"),
    "-I": ("insecure_tls", "bool"),
    "--tls-cert": ("tls_certs", "list"),
    "-C": ("tls_certs", "list"),
    "--no-progress": ("no_progress", "bool"),
}


def _local_option(cmd: click.Command, name: str) -> click.Option | None:
    for param in cmd.params:
        if (
            isinstance(param, click.Option)
            and not isinstance(param, GlobalOption)
            and (name in param.opts or name in param.secondary_opts)
        ):
            return param
    return None


def _canonical(option: click.Option, used: str) -> str:
    longs = [o for o in option.opts if o.startswith("--")]
    return longs[0] if longs else used


class _Walker:
    def __init__(self, argv: Sequence[str]) -> None:
        self.args = list(argv)
        self.pos = 0
        self.out: list[str] = []
        self.flags = GlobalFlags()

    def next_value(self, flag: str) -> str:
        if self.pos >= len(self.args):
            shown = f"'{flag[1:]}' in {flag}" if not flag.startswith("--") else flag
            raise CobraUsageError(f"flag needs an argument: {shown}")
        value = self.args[self.pos]
        self.pos += 1
        return value

    def keep_local(self, option: click.Option, used: str, value: str | None) -> None:
        name = _canonical(option, used)
        if isinstance(option, CobraBoolOption):
            self.out.append(f"{name}={'true' if value is None else value}")
        elif option.is_flag or option.count:
            self.out.append(used if value is None else f"{used}={value}")
        elif value is not None:
            self.out.append(f"{name}={value}")
        else:
            self.out.append(f"{name}={self.next_value(used)}")

    def take_global(self, flag: str, value: str | None) -> None:
        attr, kind = _GLOBAL[flag]
        if kind == "bool":
            text = "true" if value is None else value
            try:
                setattr(self.flags, attr, parse_go_bool(text))
            except ValueError as exc:
                raise CobraUsageError(
                    f'invalid argument "{text}" for "{flag}" flag: {exc}'
                ) from None
            return
        text = self.next_value(flag) if value is None else value
        if kind == "list":
            self.flags.tls_certs.extend(part for part in text.split(",") if part)
        else:
            setattr(self.flags, attr, text)

    def option(self, cmd: click.Command, token: str) -> None:
        if token.startswith("--"):
            name, eq, rest = token.partition("=")
            value: str | None = rest if eq else None
        else:
            name, rest = token[:2], token[2:]
            value = rest[1:] if rest.startswith("=") else (rest or None)
        local = _local_option(cmd, name)
        if local is not None:
            if not token.startswith("--") and rest and not rest.startswith("="):
                is_bool = isinstance(local, CobraBoolOption) or local.is_flag
                if is_bool:  # combined shorthands ("-ab"): leave them to click
                    self.out.append(token)
                    return
            self.keep_local(local, name, value)
        elif name in _GLOBAL:
            self.take_global(name, value)
        else:
            self.out.append(token)


def split_argv(root: click.Command, argv: Sequence[str]) -> tuple[GlobalFlags, list[str]]:
    """Take the persistent flags out of ``argv``; return them and the argv for click."""
    walker = _Walker(argv)
    cmd = root
    cobra = True
    args = walker.args
    while walker.pos < len(args):
        token = args[walker.pos]
        walker.pos += 1
        if not cobra:
            walker.out.append(token)
        elif token == "--":
            walker.out.extend(args[walker.pos - 1 :])
            break
        elif token.startswith("-") and len(token) > 1:
            walker.option(cmd, token)
        else:
            sub = cmd.resolve(token) if isinstance(cmd, CobraGroup) else None
            if sub is not None:
                cmd = sub
                cobra = isinstance(sub, CobraCommand | CobraGroup)
            walker.out.append(token)
    return walker.flags, walker.out
