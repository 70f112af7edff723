"""Ids with characters that are special in a URL, through Brickyard's client against the real
application with JWT authentication on.

The client escapes an id into one path segment and signs the path the server decodes from
it; the server computes the qsh over that decoded path, as Heketi does over Go's r.URL.Path.
So such an id is an unknown path (``404 Invalid path or request``, contract §1.0), never
``401 Invalid qsh claim in token``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from brickyard.client import AsyncHeketiClient, HeketiError

from .conftest import authenticated_sim_server

ADMIN_KEY = "admin secret"
SPECIAL_IDS = ["a b", "%2F", "é", "..", "%", "a/b", "?x=1", "#top", "+", "a%20b", "ü/../.."]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncHeketiClient]:
    server = authenticated_sim_server(tmp_path, ADMIN_KEY)
    transport = httpx.ASGITransport(app=server.app)
    async with AsyncHeketiClient("http://heketi", "admin", ADMIN_KEY, transport=transport) as c:
        yield c
    server.store.close()


Lookup = Callable[[AsyncHeketiClient, str], Awaitable[object]]
LOOKUPS: dict[str, Lookup] = {
    "volume info": lambda c, i: c.volume_info(i),
    "cluster info": lambda c, i: c.cluster_info(i),
    "node info": lambda c, i: c.node_info(i),
    "device info": lambda c, i: c.device_info(i),
}


@pytest.mark.parametrize("special", SPECIAL_IDS)
@pytest.mark.parametrize("lookup", list(LOOKUPS))
async def test_special_id_is_an_unknown_path(
    client: AsyncHeketiClient, lookup: str, special: str
) -> None:
    with pytest.raises(HeketiError) as error:
        await LOOKUPS[lookup](client, special)
    assert (error.value.status, error.value.message) == (404, "Invalid path or request")


async def test_the_client_is_authenticated_at_all(client: AsyncHeketiClient) -> None:
    assert await client.cluster_list() == {"clusters": []}
    with pytest.raises(HeketiError) as error:
        await client.volume_info("0" * 32)
    assert (error.value.status, error.value.message) == (404, "Id not found")


@pytest.mark.parametrize("dot", [".", ""])
async def test_a_dot_or_empty_id_lands_on_the_list_as_with_heketi(
    client: AsyncHeketiClient, dot: str
) -> None:
    # "/volumes/." and "/volumes/" end, through mux's redirects, at GET /volumes; Heketi's
    # client follows them too and heketi-cli prints an empty volume from the list it gets.
    assert await client.volume_info(dot) == {"volumes": []}
