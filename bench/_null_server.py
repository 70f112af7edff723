"""A server that does no work: it replays the create protocol's answers (the clients' floor).

``bench/create.py`` records what the real server answered to one create (the 202 with its
Location, the queue's 303, the volume's 200 and its JSON) and what it answers to
``GET /clusters`` (the clients' warm-up request), then runs the same client processes against
this server. What those creates cost is then the clients' and the kernel's alone: no design of
the server can make 8 clients finish their creates faster than they do here, on this machine,
at that moment.

Each request is answered at once from memory: a POST with the recorded 202 (its Location
pointing to a new queue id), ``/queue/...`` with the recorded 303, ``/volumes/...`` with the
recorded volume, anything else with the recorded ``GET /clusters``. Headers are sent as the
real server sent them, so the clients parse responses of the same size.

    python _null_server.py PORT ANSWERS.json     # prints "ready" once it listens
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import uvloop

ANSWERS = ("accepted", "done", "volume", "other")


def encode(answer: dict[str, Any], location: str | None = None) -> bytes:
    """One recorded answer as HTTP/1.1 bytes; `location` replaces the recorded Location."""
    lines = [f"HTTP/1.1 {answer['status']} {answer['reason']}"]
    for name, value in answer["headers"]:
        if name.lower() == "location" and location is not None:
            value = location
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer["body"].encode()


class Replay(asyncio.Protocol):
    def __init__(self, answers: dict[str, dict[str, Any]], counter: list[int]) -> None:
        self.answers = answers
        self.done = encode(answers["done"])
        self.volume = encode(answers["volume"])
        self.other = encode(answers["other"])
        self.counter = counter
        self.buffer = b""
        self.transport: Any = None  # uvloop's transport is no asyncio.Transport subclass

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := self._next_request()) is not None:
            self.transport.write(self._answer(*request))

    def _next_request(self) -> tuple[str, str] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return None
        self.buffer = self.buffer[end + 4 + length :]
        method, path, _ = head[0].split(" ", 2)
        return method, path

    def _answer(self, method: str, path: str) -> bytes:
        if method == "POST":
            self.counter[0] += 1
            return encode(self.answers["accepted"], f"/queue/{self.counter[0]:032x}")
        if path.startswith("/queue/"):
            return self.done
        if path.startswith("/volumes/"):
            return self.volume
        return self.other


async def serve(port: int, answers: dict[str, dict[str, Any]]) -> None:
    counter = [0]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Replay(answers, counter), "127.0.0.1", port)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    recorded = json.loads(Path(sys.argv[2]).read_text())
    missing = [name for name in ANSWERS if name not in recorded]
    if missing:
        sys.exit(f"answers file lacks {', '.join(missing)}")
    uvloop.run(serve(int(sys.argv[1]), recorded))
