"""The `heketi` alias: Heketi's server flags (--config=PATH, --disable-auth, --version), so a
systemd unit written for Heketi starts Brickyard unchanged; and Heketi's offline
`heketi db import/export` subcommands, with Heketi's flags and messages."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .log_flags import logging_flags
from .serve import run_server, version_text


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Configuration file")
@click.option("--disable-auth", is_flag=True, help="Disable authentication")
@click.option("--version", "-v", "show_version", is_flag=True, help="Print version")
@logging_flags
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    disable_auth: bool,
    show_version: bool,
    log_format: str | None,
    log_third_party: str | None,
) -> None:
    """Heketi-compatible GlusterFS volume manager server (Brickyard)."""
    if ctx.invoked_subcommand is not None:
        return
    if show_version:
        click.echo(version_text())
        return
    raise SystemExit(run_server(config_path, disable_auth, log_format, log_third_party))


@cli.group("db")
def db() -> None:
    """heketi db management"""


def _require(value: str, message: str) -> str:
    if not value:
        click.echo(message, err=True)
        raise SystemExit(1)
    return value


@db.command("import")
@click.option("--jsonfile", default="", help="Input file with data in JSON format")
@click.option("--dbfile", default="", help="File path for db to be created")
@click.option("--debug", is_flag=True, help="Show debug logs on stdout")
def db_import(jsonfile: str, dbfile: str, debug: bool) -> None:
    """import creates a db file from JSON input"""
    _require(jsonfile, "Please provide file for input")
    _require(dbfile, "Please provide path for db file")
    # Imported here, not at the top: the server started by this entry point never needs it.
    from .commands_migrate import Database, MigrationError, import_text, read_input

    database = Database.at(dbfile)
    try:
        # As Heketi: a new database file, never one that exists.
        if database.path is not None and database.path.exists():
            raise MigrationError(f"{dbfile} file already exists")
        dump = import_text(database, read_input(jsonfile))
    except MigrationError as exc:
        click.echo(f"db creation failed: {exc}", err=True)
        raise SystemExit(1) from None
    for warning in dump.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(dump.summary().text(), err=True)
    click.echo(f"DB imported to {dbfile}", err=True)


@db.command("export")
@click.option("--dbfile", default="", help="File path for db to be exported")
@click.option("--jsonfile", default="", help="File path for JSON file to be created")
@click.option("--debug", is_flag=True, help="Show debug logs on stdout")
def db_export(dbfile: str, jsonfile: str, debug: bool) -> None:
    """export creates a JSON file from a db file"""
    _require(jsonfile, "Please provide file for input")
    _require(dbfile, "Please provide path for db file")
    from .commands_migrate import Database, MigrationError, export_text, write_output

    try:
        write_output(jsonfile, export_text(Database.at(dbfile)))
    except MigrationError as exc:
        click.echo(f"failed to dump db: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"DB exported to {jsonfile}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=None if argv is None else list(argv))


if __name__ == "__main__":
    main()
