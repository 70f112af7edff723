"""Click building blocks that behave like heketi-cli's cobra/pflag flags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

__all__ = [
    "GO_BOOL",
    "GO_FLOAT",
    "GO_INT",
    "CobraBoolOption",
    "CobraCommand",
    "CobraGroup",
    "CobraUsageError",
    "GlobalOption",
    "bool_flag",
    "leaf",
    "parse_go_bool",
]

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class CobraUsageError(click.UsageError):
    """A usage error whose message is printed verbatim after ``Error: ``."""


def parse_go_bool(value: str) -> bool:
    """``strconv.ParseBool``."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _flag_name(param: click.Parameter | None) -> str:
    if param is None or not param.opts:
        return "flag"
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or param.opts)[0]


class _GoType(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.4
    go_parser = "strconv.ParseInt"

    def parse(self, value: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except ValueError:
            raise CobraUsageError(
                f'invalid argument "{value}" for "{_flag_name(param)}" flag: '
                f'{self.go_parser}: parsing "{value}": invalid syntax'
            ) from None


class _GoBool(_GoType):
    name = "bool"
    go_parser = "strconv.ParseBool"

    def parse(self, value: str) -> bool:
        return parse_go_bool(value)


class _GoInt(_GoType):
    name = "int"

    def parse(self, value: str) -> int:
        text = value.replace("_", "x")  # Go rejects underscores without a base prefix
        return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text, 10)


class _GoFloat(_GoType):
    name = "float"
    go_parser = "strconv.ParseFloat"

    def parse(self, value: str) -> float:
        if value.strip() != value or "_" in value:
            raise ValueError(value)
        return float(value)


GO_BOOL = _GoBool()
GO_INT = _GoInt()
GO_FLOAT = _GoFloat()


class CobraBoolOption(click.Option):
    """A pflag bool: ``--x`` means true, ``--x=false`` false (argv is normalised to ``--x=V``)."""


class GlobalOption(click.Option):
    """A persistent flag: shown in the root's help, taken out of argv before parsing."""


def bool_flag(*decls: str, default: bool = False, help: str = "") -> Callable[[F], F]:
    return click.option(
        *decls,
        cls=CobraBoolOption,
        type=GO_BOOL,
        default=default,
        show_default=False,
        metavar="[=true|false]",
        help=help,
    )


class CobraCommand(click.Command):
    """A leaf command whose argv gets the cobra normalisation (see :mod:`brickyard.cli.argv`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # cobra commands ignore positional arguments they do not use
        kwargs.setdefault("context_settings", {**CONTEXT_SETTINGS, "allow_extra_args": True})
        super().__init__(*args, **kwargs)


class CobraGroup(click.Group):
    """A command group with aliases that prints its help when called without a subcommand."""

    command_class = CobraCommand

    def __init__(self, *args: Any, aliases: Sequence[str] = (), **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("invoke_without_command", True)
        if kwargs.get("callback") is None:
            kwargs["callback"] = _show_help
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}
        self.own_aliases = tuple(aliases)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        for alias in getattr(cmd, "own_aliases", ()):
            self.aliases[alias] = name or cmd.name or alias

    def resolve(self, name: str) -> click.Command | None:
        """The subcommand called ``name`` (or an alias of it)."""
        return self.commands.get(self.aliases.get(name, name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.resolve(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        cmd = self.resolve(name)
        if cmd is None and not ctx.resilient_parsing:
            path = ctx.command_path
            raise CobraUsageError(
                f'unknown command "{name}" for "{path}"\nRun \'{path} --help\' for usage.'
            )
        return (cmd.name if cmd else None), cmd, args[1:]


def _show_help() -> None:
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def leaf(
    group: CobraGroup, name: str, *, aliases: Sequence[str] = (), help: str | None = None
) -> Callable[[Callable[..., Any]], click.Command]:
    """Register a leaf command on ``group`` (with the given aliases)."""

    def decorator(fn: Callable[..., Any]) -> click.Command:
        cmd = click.command(name, cls=CobraCommand, help=help)(fn)
        cmd.own_aliases = tuple(aliases)  # type: ignore[attr-defined]
        group.add_command(cmd)
        return cmd

    return decorator
