"""``settags`` / ``rmtags`` shared by nodes and devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import click

from brickyard.cli.common import split_tags
from brickyard.cli.params import CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError
from brickyard.client import JSONDict

__all__ = ["add_tag_commands"]

Submit = Callable[[str, Mapping[str, str], str], JSONDict]


def add_tag_commands(group: CobraGroup, kind: str, submit: Callable[[], Submit]) -> None:
    """Add ``settags`` and ``rmtags`` (aliases ``deltags``, ``removetags``) to ``group``."""

    @leaf(group, "settags", help=f"Sets tags on a {kind}")
    @bool_flag("--exact", "-e", help="Set the object to this exact set of tags.")
    @click.argument("args", nargs=-1)
    def settags(exact: bool, args: tuple[str, ...]) -> None:
        if not args:
            raise CliError("id required")
        if len(args) < 2:
            raise CliError("at least one tag:value pair expected")
        tags = split_tags(args[1:])
        submit()(args[0], tags, "set" if exact else "update")

    @leaf(group, "rmtags", aliases=("deltags", "removetags"), help=f"Removes tags from a {kind}")
    @bool_flag("--all", help="Remove all tags.")
    @click.argument("args", nargs=-1)
    def rmtags(all: bool, args: tuple[str, ...]) -> None:
        if not args:
            raise CliError("id required")
        if len(args) < 2 and not all:
            raise CliError("at least one tag expected")
        if len(args) >= 2 and all:
            raise CliError("--all may not be combined with named tags")
        if all:
            submit()(args[0], {}, "set")
        else:
            submit()(args[0], dict.fromkeys(args[1:], ""), "delete")
