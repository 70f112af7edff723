"""`make demo`: a Heketi user's first steps against Brickyard, and a server left to play with.

Where it can (root, /dev/fuse, `ip netns`), on real GlusterFS: `testbed/tb install` and `tb up`
(3 namespace nodes on this machine, reused when running), the server with the ssh executor and
the loop-file backend, a 3-node topology on the bed's raw disks, a replica-3 volume "demo"
(reused on a rerun), FUSE-mounted under .demo/mnt, a file written and read back, then the
volume and the topology as heketi-cli prints them.  Elsewhere it says why and runs on the
simulator (executor mock): same steps, no mount, a fresh database each time.

Either way the server keeps running afterwards, detached (its own session; pid in
.demo/server.pid, log in .demo/server.log), and the demo prints the lines that point heketi-cli
at it.  A rerun reuses that server when it runs with the same configuration, and otherwise stops
it before starting another: never two, never a second port.  `python -m brickyard.demo clean`
(`make demo-clean`) deletes the volume, stops the server, removes the bed and .demo.

BRICKYARD_DEMO_DIR (default .demo) selects the directory, TB_NAME (default tb) the bed, so a
second demo can run beside a user's; BRICKYARD_DEMO_SIMULATOR=1 skips the bed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

DEMO_DIR = Path(os.environ.get("BRICKYARD_DEMO_DIR") or ".demo").resolve()
CONFIG = DEMO_DIR / "heketi.json"
PID_FILE = DEMO_DIR / "server.pid"
BED_FILE = DEMO_DIR / "bed.json"  # the bed the demo runs on, for `clean`
CLIENT_ENV = DEMO_DIR / "client.env"
MNT = DEMO_DIR / "mnt"
# what `clean` may remove: never a directory BRICKYARD_DEMO_DIR names by mistake
OURS = {"heketi.json", "server.pid", "server.log", "bed.json", "client.env", "topology.json", "mnt"}
ADMIN_KEY = "demo-admin-secret"
VOLUME_NAME = "demo"
BIN = Path(sys.executable).parent  # the venv's bin: heketi, heketi-cli
REPO = Path(__file__).resolve().parents[2]
TB = REPO / "testbed" / "tb"


def free_port(preferred: int = 8080) -> int:
    with socket.socket() as s:
        # as the server binds (uvicorn sets it): connections of a stopped server in TIME_WAIT
        # must not make a rerun move to another port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/hello", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


# ---- the server: detached, found again by its command line --------------------------------------


def server_pids() -> list[int]:
    """Live processes running `heketi --config=<this demo's heketi.json>` (any user's pid
    file may be stale or gone: the command line is what identifies a demo server)."""
    wanted = f"--config={CONFIG}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in argv and state != "Z":
            found.append(int(proc.name))
    return sorted(found)


def stop_servers(timeout: float = 15) -> list[int]:
    """SIGTERM every server of this demo, SIGKILL what is left after `timeout`; returns the
    pids stopped.  Raises SystemExit if one survives."""
    pids = server_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while server_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in server_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    if server_pids():
        raise SystemExit(f"the demo server does not stop: pids {server_pids()}")
    PID_FILE.unlink(missing_ok=True)
    return pids


class Server:
    """The demo's `heketi` (started here or by an earlier run) and heketi-cli against it."""

    def __init__(self, port: int, pid: int) -> None:
        self.port = port
        self.pid = pid
        self.url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
        self.env.update(
            HEKETI_CLI_SERVER=self.url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=ADMIN_KEY
        )

    def cli(self, *args: str) -> str:
        print(f"$ heketi-cli {' '.join(args)}", flush=True)
        done = subprocess.run(
            [str(BIN / "heketi-cli"), *args],
            env=self.env,
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

    def quiet(self, *args: str) -> Any:
        done = subprocess.run(
            [str(BIN / "heketi-cli"), "--json", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"heketi-cli {' '.join(args)}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def demo_volume(self) -> str | None:
        listing = self.quiet("volume", "list")
        for vid in (listing.get("volumes") if isinstance(listing, dict) else None) or []:
            info = self.quiet("volume", "info", vid)
            if isinstance(info, dict) and info.get("name") == VOLUME_NAME:
                return str(vid)
        return None

    def usage(self) -> list[str]:
        """The lines that use the server from a fresh shell."""
        cli = BIN / "heketi-cli"
        # a bare `heketi-cli` only where it is this one (not another Heketi's, not missing)
        on_path = shutil.which("heketi-cli")
        command = "heketi-cli" if on_path and Path(on_path).resolve() == cli.resolve() else str(cli)
        return [
            f"export HEKETI_CLI_SERVER={self.url}",
            f"export HEKETI_CLI_USER=admin HEKETI_CLI_KEY={shlex.quote(ADMIN_KEY)}",
            f"{shlex.quote(command)} volume list",
        ]


def running_server(config: dict[str, Any]) -> Server | None:
    """The demo server if one runs with `config` (all but the port) and answers, else None."""
    pids = server_pids()
    try:
        current = json.loads(CONFIG.read_text())
        port = int(current["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(pids) != 1 or {**current, "port": ""} != {**config, "port": ""}:
        return None
    server = Server(port, pids[0])
    return server if answers(server.url) else None


def start_server(config: dict[str, Any]) -> Server:
    """Start `heketi --config=...` detached: its own session, so neither make's exit nor a
    Ctrl-C in the terminal stops it, and stdio on the log, so it holds no caller's pipe."""
    stop_servers()  # an earlier server with another configuration, or one that hangs
    try:
        preferred = int(json.loads(CONFIG.read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        preferred = 8080
    port = free_port(preferred)
    CONFIG.write_text(json.dumps({**config, "port": str(port)}, indent=2) + "\n")
    # the server reads HEKETI_ADMIN_KEY and the like: the printed key must be the one it uses
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    print(f"$ heketi --config={CONFIG} &   (port {port}, log {DEMO_DIR}/server.log)", flush=True)
    with open(DEMO_DIR / "server.log", "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "heketi"), f"--config={CONFIG}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=DEMO_DIR,
            env=env,
            start_new_session=True,
        )
    PID_FILE.write_text(f"{process.pid}\n")
    server = Server(port, process.pid)
    deadline = time.monotonic() + 30
    while not answers(server.url):
        if process.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            raise SystemExit(
                f"the server exited with status {process.returncode}; see {DEMO_DIR}/server.log"
            )
        if time.monotonic() > deadline:
            stop_servers()
            raise SystemExit(f"the server did not answer {server.url} within 30 s")
        time.sleep(0.1)
    return server


def server_config(db: Path, glusterfs: dict[str, Any]) -> dict[str, Any]:
    return {
        "_port_comment": "Heketi Server Port Number",
        "port": "",
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "demo-user-secret"}},
        "glusterfs": {"db": str(db), "loglevel": "info", **glusterfs},
    }


def leave_running(server: Server, rerun: str) -> None:
    lines = server.usage()
    CLIENT_ENV.write_text("\n".join(lines[:2]) + "\n")
    print(
        f"\nThe server keeps running (pid {server.pid}, log {DEMO_DIR / 'server.log'}). "
        "To use it from a shell:\n"
    )
    print("\n".join(f"    {line}" for line in lines))
    print(
        f"\n(or `. {CLIENT_ENV}` for the first two). `make demo` again {rerun}; "
        "`make demo-clean` stops it and removes what the demo made."
    )


def configured_executor() -> str | None:
    """The executor of the demo's heketi.json: which demo ran here last."""
    try:
        return str(json.loads(CONFIG.read_text())["glusterfs"]["executor"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def created_id(output: str) -> str:
    return next(
        line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("Volume Id:")
    )


# ---- the simulator ------------------------------------------------------------------------------


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


def simulator() -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    # simulated nodes hold nothing: a fresh database, so a fresh server, every time
    stop_servers()
    # a database of its own, so that a real demo's heketi.db (and bed.json: its bed is still
    # `clean`'s to remove) survive a simulator run
    for leftover in DEMO_DIR.glob("simulator.db*"):
        leftover.unlink()
    (DEMO_DIR / "topology.json").write_text(json.dumps(topology(), indent=2))
    print("(simulated nodes: executor mock)")
    server = start_server(server_config(DEMO_DIR / "simulator.db", {"executor": "mock"}))
    server.cli("topology", "load", f"--json={DEMO_DIR / 'topology.json'}")
    server.cli("cluster", "list")
    server.cli("node", "list")
    volume_id = created_id(server.cli("volume", "create", "--size=1", f"--name={VOLUME_NAME}"))
    server.cli("volume", "list")
    server.cli("volume", "info", volume_id)
    server.cli("topology", "info")
    print(
        f"Demo done: volume {VOLUME_NAME} ({volume_id}) is a replica-3 volume across zones 1-3 "
        "(simulator)."
    )
    leave_running(server, "starts it afresh (simulated nodes keep nothing)")


# ---- real GlusterFS on the namespace test bed ---------------------------------------------------


def why_not_real() -> str | None:
    """Why this machine cannot run the demo on real GlusterFS, or None."""
    if not TB.exists():
        return f"{TB} is missing"
    if os.geteuid() != 0:
        return "not root (the test bed needs namespaces, loop devices and mounts)"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse (volumes cannot be FUSE-mounted here)"
    try:
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
        probe = subprocess.run(
            ["unshare", "--net", "--mount", "--uts", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns` / `unshare` do not work: {exc}"
    if netns.returncode != 0:
        return f"`ip netns` does not work: {netns.stderr.decode().strip()}"
    if probe.returncode != 0:
        return f"cannot create namespaces: {probe.stderr.decode().strip()}"
    return None


def tb_environ(bed: dict[str, str] | None) -> dict[str, str]:
    """The environment that points testbed/tb at `bed` (TB_NAME, TB_STATE, TB_NET as `tb env`
    gave them), or at whatever bed this environment names (TB_NAME, default tb)."""
    env = dict(os.environ)
    if bed is not None:
        env.update({k: bed[k] for k in ("TB_NAME", "TB_STATE", "TB_NET") if k in bed})
    return env


def tb(*args: str, bed: dict[str, str] | None = None, timeout: float = 900) -> str:
    """`testbed/tb ARGS`, shown; its stderr (tb's log) is returned."""
    print(f"$ testbed/tb {' '.join(args)}", flush=True)
    done = subprocess.run(
        [str(TB), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=tb_environ(bed),
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"testbed/tb {args[0]} failed with exit status {done.returncode}")
    return done.stderr


def tb_env(bed: dict[str, str] | None = None) -> dict[str, str]:
    out = subprocess.run(
        [str(TB), "env"], capture_output=True, text=True, check=True, env=tb_environ(bed)
    ).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip('"')
    return env


def saved_bed() -> dict[str, str] | None:
    try:
        bed = json.loads(BED_FILE.read_text())
    except (OSError, ValueError):
        return None
    return bed if isinstance(bed, dict) else None


def real_topology(bed: dict[str, str]) -> dict[str, object]:
    disk = bed["TB_DISKS"].split()[0]
    nodes = bed["TB_NODES"].split()
    return {
        "clusters": [
            {
                "nodes": [
                    {
                        "node": {"hostnames": {"manage": [ip], "storage": [ip]}, "zone": i},
                        "devices": [disk],
                    }
                    for i, ip in enumerate(nodes, start=1)
                ]
            }
        ]
    }


def real_config(bed: dict[str, str]) -> dict[str, Any]:
    return server_config(
        DEMO_DIR / "heketi.db",
        {
            "executor": "ssh",
            "brick_backend": "loopfile",
            "sshexec": {"keyfile": bed["TB_SSH_KEY"], "user": bed["TB_SSH_USER"], "port": "22"},
        },
    )


def unmount() -> None:
    if subprocess.run(["mountpoint", "-q", str(MNT)], check=False).returncode == 0:
        print(f"$ umount {MNT}", flush=True)
        if subprocess.run(["umount", str(MNT)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(MNT)], check=False)


def bed_and_server(previous: dict[str, str] | None) -> tuple[dict[str, str], Server]:
    """`tb up` (the bed of the last run if there was one) and the server on its database,
    reused when it runs; both afresh when the database describes other nodes."""
    up = tb("up", bed=previous)
    bed = tb_env(previous)
    BED_FILE.write_text(json.dumps(bed, indent=2) + "\n")
    built = re.search(r"built: ([^;]*);", up)
    if built and built.group(1).strip() != "none":
        # new nodes with raw disks: a database from an earlier bed describes nothing real,
        # and a server still running on it goes with it
        stop_servers()
        for leftover in DEMO_DIR.glob("heketi.db*"):
            leftover.unlink()
    (DEMO_DIR / "topology.json").write_text(json.dumps(real_topology(bed), indent=2))
    unmount()
    config = real_config(bed)
    server = running_server(config)
    if server is not None:
        print(f"(the demo server is running: reusing it, pid {server.pid}, {server.url})")
    else:
        server = start_server(config)
    topology = server.quiet("topology", "info")
    known = {
        host
        for cluster in topology.get("clusters") or []
        for node in cluster.get("nodes") or []
        for host in node["hostnames"]["manage"]
    }
    if known and known != set(bed["TB_NODES"].split()):
        # e.g. a database an older demo's simulator run left: its volumes are not on the bed's
        # disks, and the disks may hold what it forgot; only a new bed matches a new database
        print(f"(the database knows other nodes ({' '.join(sorted(known))}): starting afresh)")
        stop_servers()
        tb("down", bed=bed)
        return bed_and_server(bed)
    return bed, server


def real() -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    previous = saved_bed()
    tb("install", bed=previous)
    bed, server = bed_and_server(previous)
    clusters = server.quiet("cluster", "list")
    if isinstance(clusters, dict) and clusters.get("clusters"):
        print("(topology already loaded: reusing it)")
    else:
        server.cli("topology", "load", f"--json={DEMO_DIR / 'topology.json'}")
    server.cli("node", "list")
    volume_id = server.demo_volume()
    if volume_id is None:
        volume_id = created_id(server.cli("volume", "create", "--size=1", f"--name={VOLUME_NAME}"))
    else:
        print(f"(volume {VOLUME_NAME} already there: reusing {volume_id})")
    info = server.cli("volume", "info", volume_id)
    mount_src = next(
        line.split(": ", 1)[1].strip() for line in info.splitlines() if line.startswith("Mount:")
    )
    backups = next(
        (
            line.split("backup-volfile-servers=", 1)[1].strip()
            for line in info.splitlines()
            if "backup-volfile-servers=" in line
        ),
        "",
    )
    MNT.mkdir(exist_ok=True)
    argv = ["mount", "-t", "glusterfs"]
    if backups:
        argv += ["-o", f"backup-volfile-servers={backups.replace(',', ':')}"]
    argv += [mount_src, str(MNT)]
    print(f"$ {' '.join(argv)}", flush=True)
    if subprocess.run(argv, check=False, timeout=60).returncode != 0:
        raise SystemExit(f"cannot mount {mount_src} (glusterfs logs: /var/log/glusterfs/)")
    try:
        text = f"hello from Brickyard, {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        (MNT / "hello.txt").write_text(text)
        back = (MNT / "hello.txt").read_text()
        print(f"$ cat {MNT / 'hello.txt'}\n{back}", end="", flush=True)
        if back != text:
            raise SystemExit("read back something else than was written")
        print(f"$ ls {MNT}\n{' '.join(sorted(p.name for p in MNT.iterdir()))}")
    finally:
        unmount()
    server.cli("topology", "info")
    print(
        f"Demo done: volume {VOLUME_NAME} ({volume_id}) is a replica-3 GlusterFS volume on the "
        f"3 nodes of the test bed '{bed['TB_NAME']}'. The bed and {DEMO_DIR}/heketi.db stay."
    )
    leave_running(server, "reuses it")


def clean() -> None:
    """`make demo-clean`: unmount, delete the demo volume, stop the server (and check that it is
    gone), `tb down` of the demo's bed, remove the demo directory."""
    bed = saved_bed()
    # A demo dir without bed.json (from an older demo, or a run that failed early) means the
    # bed this environment names (TB_NAME, default tb), as clean always did; a simulator's
    # demo made none.
    made_bed = bed is not None or configured_executor() != "mock"
    real_demo = DEMO_DIR.is_dir() and made_bed and why_not_real() is None
    if real_demo:
        unmount()
        bed_up = subprocess.run(
            [str(TB), "status"], capture_output=True, check=False, env=tb_environ(bed)
        )
        if (
            (DEMO_DIR / "heketi.db").exists()
            and bed_up.returncode == 0
            and configured_executor() == "ssh"
        ):
            env = tb_env(bed)
            server = running_server(real_config(env)) or start_server(real_config(env))
            try:
                volume_id = server.demo_volume()
                if volume_id is not None:
                    server.cli("volume", "delete", volume_id)
            except SystemExit as exc:  # `tb down` removes the volume anyway
                print(f"(could not delete the volume: {exc}; the bed goes down anyway)")
    stopped = stop_servers()
    if stopped:
        print(f"(stopped the demo server, pid {' '.join(map(str, stopped))})")
    with contextlib.suppress(OSError, ValueError, KeyError):
        url = f"http://127.0.0.1:{int(json.loads(CONFIG.read_text())['port'])}"
        if answers(url):  # not ours by its command line, yet on our port: say so, stop here
            raise SystemExit(f"a server still answers on {url}: not the demo's, left alone")
    if real_demo:
        tb("down", bed=bed)
    if DEMO_DIR.is_dir():
        unknown = [p.name for p in DEMO_DIR.iterdir() if p.name not in OURS]
        unknown = [n for n in unknown if not n.startswith(("heketi.db", "simulator.db"))]
        if unknown:
            raise SystemExit(f"not removing {DEMO_DIR}: it holds {', '.join(sorted(unknown))}")
        shutil.rmtree(DEMO_DIR)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "clean":
        clean()
        return
    forced = os.environ.get("BRICKYARD_DEMO_SIMULATOR") == "1"
    reason = "BRICKYARD_DEMO_SIMULATOR=1" if forced else why_not_real()
    if reason is None:
        real()
        return
    print(f"Not running on real GlusterFS: {reason}. Falling back to the simulator.", flush=True)
    simulator()


if __name__ == "__main__":
    main()
