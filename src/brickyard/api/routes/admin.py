"""Server administration: admin state, log level, operations, db dump/check/backup."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import InvalidRequest, NotFound
from ...heketidb.check import check_database
from ...heketidb.export import dump_database
from ...services import journal
from ...services.operations.recovery import begin_cleanup
from .. import requests as parse
from ..decode import DecodeError
from ..responses import empty, json_response, text_error
from ..routing import Routes
from ..state import ADMIN_STATES, LOG_LEVELS, api_state, read_body

router = Routes()


@router.get("/admin")
async def get_admin(request: Request) -> Response:
    return json_response({"state": api_state(request).admin_state})


@router.post("/admin")
async def set_admin(request: Request) -> Response:
    try:
        data = parse.raw(await read_body(request), parse.ADMIN_SPEC)
    except DecodeError as exc:
        return text_error(400, f"request unable to be parsed: {exc}")
    if not data["state"]:
        raise InvalidRequest("validation failed: state: cannot be blank.")
    if data["state"] not in ADMIN_STATES:
        raise InvalidRequest("validation failed: state: must be a valid value.")
    api_state(request).admin_state = data["state"]
    return empty(204)


@router.get("/internal/logging")
async def get_logging(request: Request) -> Response:
    return json_response({"loglevel": {"glusterfs": api_state(request).log_level}})


@router.post("/internal/logging")
async def set_logging(request: Request) -> Response:
    try:
        data = parse.raw(await read_body(request), parse.LOGGING_SPEC)
    except DecodeError as exc:
        return text_error(400, f"request unable to be parsed: {exc}")
    levels = data["loglevel"]
    if "glusterfs" not in levels:
        return text_error(422, 'Only "glusterfs" logger may be modified')
    level = levels["glusterfs"]
    if level not in LOG_LEVELS:
        return text_error(422, f"invalid log level: {level}")
    api = api_state(request)
    api.log_level = level
    apply_log_level(level)
    return json_response({"loglevel": {"glusterfs": level}})


def apply_log_level(level: str) -> None:
    python_level = {
        "none": logging.CRITICAL + 10,
        "critical": logging.CRITICAL,
        "error": logging.ERROR,
        "warning": logging.WARNING,
        "info": logging.INFO,
        "debug": logging.DEBUG,
    }[level]
    logging.getLogger("brickyard").setLevel(python_level)


@router.get("/operations")
async def operations(request: Request) -> Response:
    return json_response(journal.counts(api_state(request).services.ctx))


@router.get("/operations/pending")
async def pending_operations(request: Request) -> Response:
    ctx = api_state(request).services.ctx
    return json_response(
        {"pendingoperations": [journal.summary(op) for op in journal.all_operations(ctx)]}
    )


@router.get("/operations/pending/{op_id:hex}")
async def pending_operation(request: Request, op_id: str) -> Response:
    ctx = api_state(request).services.ctx
    op = journal.get(ctx, op_id)
    if op is None:
        raise NotFound(f"Id not found: {op_id}")
    return json_response(journal.detail(ctx, op))


@router.post("/operations/pending/cleanup")
async def cleanup(request: Request) -> Response:
    ids = parse.cleanup(await read_body(request))
    api = api_state(request)
    return await api.start(lambda: begin_cleanup(api.services.runner, ids))


@router.get("/db/dump")
async def db_dump(request: Request) -> Response:
    return json_response(dump_database(api_state(request).services.ctx.store), indent=True)


@router.get("/db/check")
async def db_check(request: Request) -> Response:
    return json_response(check_database(api_state(request).services.ctx.store), indent=True)


@router.get("/servers")
async def list_servers(request: Request) -> Response:
    """Our extension: the servers of this database, their leases and what each holds."""
    registry = api_state(request).registry
    if registry is None:
        raise NotFound("Servers are not registered by this server")
    return json_response({"servers": registry.describe()})


@router.get("/backup/db")
async def backup(request: Request) -> Response:
    store = api_state(request).services.ctx.store
    if store.shared:
        # Heketi's endpoint serves its database file; a PostgreSQL database has its own tools.
        return text_error(
            501, "GET /backup/db copies SQLite databases only: back up PostgreSQL with pg_dump"
        )
    data = store.backup_bytes()
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="heketi.db"'},
    )
