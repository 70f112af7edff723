"""The server's log over real ssh (docs/logging.md): a few volume creates on the test-bed
give one line per request and the create's step lines with the request's id, and, at the
default info level, none of asyncssh's channel chatter (about 180 lines per create before)."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Server

CREATES = 3
REQUEST = re.compile(
    r"^\[brickyard\] INFO \S+ \S+ (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) "
    r"[\d.]+ms peer=127\.0\.0\.1:\d+ req=(?P<req>\S+)$"
)
STEP = re.compile(
    r"^\[brickyard\] \w+ \S+ \S+ operation create-volume (?P<op>[0-9a-f]{32}) (?P<step>\S+) "
    r"(?P<outcome>\S+) [\d.]+ms req=(?P<req>\S+)"
)


def test_creates_over_ssh_log_requests_and_steps_not_ssh_chatter(server: Server) -> None:
    server.load_topology()
    log = server.workdir / "server.log"
    offset = log.stat().st_size
    volumes = [server.create_volume("--size=1") for _ in range(CREATES)]
    time.sleep(0.5)  # the last request's line follows its answer
    text = log.read_bytes()[offset:].decode()
    lines = text.splitlines()

    requests = [m.groupdict() for m in map(REQUEST.match, lines) if m]
    posts = [r for r in requests if r["method"] == "POST" and r["path"] == "/volumes"]
    assert [r["status"] for r in posts] == ["202"] * CREATES
    for volume in volumes:  # heketi-cli reads each new volume after its create
        assert any(r["path"] == f"/volumes/{volume}" and r["status"] == "200" for r in requests)
    polls = [r for r in requests if r["path"].startswith("/queue/")]
    assert len(polls) >= CREATES

    steps: dict[str, list[dict[str, str]]] = defaultdict(list)
    for found in map(STEP.match, lines):
        if found:
            steps[found["op"]].append(found.groupdict())
    assert len(steps) == CREATES
    for post, op_steps in zip(posts, steps.values(), strict=True):
        names = [s["step"] for s in op_steps]
        assert names == ["planned", "brick-made", "gluster-create-begun", "volume-made", "end"]
        assert op_steps[-1]["outcome"] == "succeeded"
        assert {s["req"] for s in op_steps} == {post["req"]}

    # Only Brickyard's lines at info: no asyncssh (nor uvicorn) chatter.
    sources = Counter(line.split(" ", 1)[0] for line in lines)
    assert set(sources) == {"[brickyard]"}, sources
    assert "asyncssh" not in text
    assert len(lines) == len(requests) + sum(len(s) for s in steps.values()), lines
