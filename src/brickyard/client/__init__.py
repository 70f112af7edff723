"""Python client for the Heketi REST API (sync and async), as used by Brickyard's heketi-cli.

>>> with HeketiClient("http://localhost:8080", "admin", "secret") as client:  # doctest: +SKIP
...     client.volume_create(10)
"""

from brickyard.client.api import Endpoints, build_volume_create
from brickyard.client.auth import make_token, qsh
from brickyard.client.errors import HeketiError
from brickyard.client.protocol import Backoff, JSONDict, go_json
from brickyard.client.transport import DEFAULT_SERVER, AsyncHeketiClient, HeketiClient

__all__ = [
    "DEFAULT_SERVER",
    "AsyncHeketiClient",
    "Backoff",
    "Endpoints",
    "HeketiClient",
    "HeketiError",
    "JSONDict",
    "build_volume_create",
    "go_json",
    "make_token",
    "qsh",
]
