"""The `heketi` alias: Heketi's server flags (--config=PATH, --disable-auth, --version), so a
systemd unit written for Heketi starts Brickyard unchanged."""

from __future__ import annotations

import click

from .serve import run_server, version_text


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Configuration file")
@click.option("--disable-auth", is_flag=True, help="Disable authentication")
@click.option("--version", "-v", "show_version", is_flag=True, help="Print version")
def cli(config_path: str | None, disable_auth: bool, show_version: bool) -> None:
    """Heketi-compatible GlusterFS volume manager server (Brickyard)."""
    if show_version:
        click.echo(version_text())
        return
    raise SystemExit(run_server(config_path, disable_auth))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
