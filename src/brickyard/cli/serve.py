"""`brickyard serve` and the `heketi` server alias share this start-up path."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable

import click
import uvicorn

from .. import HEKETI_COMPAT_VERSION, __version__
from ..api.http_protocol import CoalescingHttpToolsProtocol
from ..bootstrap import build_server
from ..config import ConfigError, load_settings, require_auth_keys
from ..logs import LogOptions, announce
from ..logs import configure as configure_logs
from .log_flags import logging_flags

log = logging.getLogger("brickyard")


def run_server(
    config_path: str | None,
    disable_auth: bool,
    log_format: str | None = None,
    log_third_party: str | None = None,
) -> int:
    try:
        log_options = LogOptions.resolve(log_format, log_third_party)
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    configure_logs(log_options)
    try:
        settings, warnings = load_settings(config_path)
        require_auth_keys(settings, disable_auth)
        for warning in warnings:
            log.warning("%s", warning)
        server = build_server(settings, disable_auth=disable_auth, migrate_apart=True)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    tls = settings.enable_tls
    config = uvicorn.Config(
        server.app,
        host=settings.bind_address,
        port=settings.port,
        # The root logger's handler and levels (logs.py), not uvicorn's own; and no access
        # log of uvicorn's: the app writes one line per request (api/app.py).
        log_config=None,
        log_level=log_options.third_party,
        access_log=False,
        # As Heketi's Go server: the peer is the socket's (the local-client admin state trusts
        # no X-Forwarded-For), and no Server header.
        proxy_headers=False,
        server_header=False,
        ssl_certfile=settings.cert_file if tls else None,
        ssl_keyfile=settings.key_file if tls else None,
        lifespan="off",
        # One write per response instead of two (api/http_protocol.py).
        http=CoalescingHttpToolsProtocol,
    )
    runner = uvicorn.Server(config)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        # SIGUSR2 puts the admin state back to normal, as in Heketi.
        loop.add_signal_handler(
            signal.SIGUSR2, lambda: setattr(server.app.state.api, "admin_state", "normal")
        )
        server.start_background()
        announce(
            log_options,
            f"Listening on port {settings.port}" + (" with TLS enabled" if tls else ""),
        )
        await runner.serve()

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner_loop:
            runner_loop.run(serve())
    finally:
        server.close()
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a dependency on Linux): it halves the
    loop's own cost per request; the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def version_text() -> str:
    return f"Heketi v{HEKETI_COMPAT_VERSION} (brickyard {__version__})"


@click.command("serve")
@click.option("--config", "config_path", metavar="PATH", help="heketi.json configuration file")
@click.option("--disable-auth", is_flag=True, help="Accept requests without JWT authentication")
@logging_flags
def serve(
    config_path: str | None,
    disable_auth: bool,
    log_format: str | None,
    log_third_party: str | None,
) -> None:
    """Run the Heketi-compatible REST server."""
    sys.exit(run_server(config_path, disable_auth, log_format, log_third_party))
