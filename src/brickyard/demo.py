"""`make demo`: a Heketi user's first steps against Brickyard on the simulator.

Starts the server (`heketi --config=...`, executor mock) on loopback, loads a 3-node topology
in three zones with `heketi-cli topology load`, creates a replica-3 volume, and prints the
volume and the topology, exactly as a Heketi user would see them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEMO_DIR = Path(".demo")
ADMIN_KEY = "demo-admin-secret"


def free_port(preferred: int = 8080) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def topology() -> dict[str, object]:
    return {
        "clusters": [
            {
                "nodes": [
                    {
                        "node": {
                            "hostnames": {
                                "manage": [f"node{i}.example.com"],
                                "storage": [f"10.0.0.{i}"],
                            },
                            "zone": i,
                        },
                        "devices": ["/dev/sdb", {"name": "/dev/sdc", "destroydata": False}],
                    }
                    for i in (1, 2, 3)
                ]
            }
        ]
    }


def wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not answer {url} within {timeout:.0f} s")


def run(env: dict[str, str], *args: str) -> str:
    print(f"$ heketi-cli {' '.join(args)}", flush=True)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("heketi-cli")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"heketi-cli {args[0]} failed with exit status {done.returncode}")
    return done.stdout


def main() -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    db = DEMO_DIR / "heketi.db"
    for leftover in DEMO_DIR.glob("heketi.db*"):
        leftover.unlink()
    port = free_port()
    config = {
        "_port_comment": "Heketi Server Port Number",
        "port": str(port),
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "demo-user-secret"}},
        "glusterfs": {"executor": "mock", "db": str(db.resolve()), "loglevel": "info"},
    }
    (DEMO_DIR / "heketi.json").write_text(json.dumps(config, indent=2))
    (DEMO_DIR / "topology.json").write_text(json.dumps(topology(), indent=2))
    server_log = open(DEMO_DIR / "server.log", "wb")  # noqa: SIM115 - kept open for the child
    heketi = str(Path(sys.executable).with_name("heketi"))
    print(
        f"$ heketi --config={DEMO_DIR / 'heketi.json'}   (simulated nodes, port {port})", flush=True
    )
    server = subprocess.Popen(
        [heketi, f"--config={DEMO_DIR / 'heketi.json'}"], stdout=server_log, stderr=server_log
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/hello", server)
        env = dict(os.environ)
        env["HEKETI_CLI_SERVER"] = f"http://127.0.0.1:{port}"
        env["HEKETI_CLI_USER"] = "admin"
        env["HEKETI_CLI_KEY"] = ADMIN_KEY
        run(env, "topology", "load", f"--json={DEMO_DIR / 'topology.json'}")
        run(env, "cluster", "list")
        run(env, "node", "list")
        created = run(env, "volume", "create", "--size=1")
        volume_id = next(
            line.split(": ", 1)[1] for line in created.splitlines() if line.startswith("Volume Id:")
        )
        run(env, "volume", "list")
        run(env, "volume", "info", volume_id)
        run(env, "topology", "info")
        print(f"Demo done: volume {volume_id} is a replica-3 volume across zones 1-3 (simulator).")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()


if __name__ == "__main__":
    main()
