"""`make demo`: a Heketi user's first steps against Brickyard.

Where it can (root, /dev/fuse, `ip netns`), on real GlusterFS: `testbed/tb install` and `tb up`
(3 namespace nodes on this machine, reused when running), the server with the ssh executor and
the loop-file backend, a 3-node topology on the bed's raw disks, a replica-3 volume "demo"
(reused on a rerun), FUSE-mounted under .demo/mnt, a file written and read back, then the
volume and the topology as heketi-cli prints them.  The bed and the database stay (a rerun
reuses them); the server is stopped and the volume unmounted.  `python -m brickyard.demo clean`
(`make demo-clean`) deletes the volume and removes the bed.

Elsewhere it says why and runs on the simulator (executor mock): same steps, no mount."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def simulator() -> None:
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


# ---- real GlusterFS on the namespace test bed ---------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
TB = REPO / "testbed" / "tb"
REAL_DIR = DEMO_DIR.resolve()
MNT = REAL_DIR / "mnt"
VOLUME_NAME = "demo"


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


def tb(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    print(f"$ testbed/tb {' '.join(args)}", flush=True)
    done = subprocess.run(
        [str(TB), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"testbed/tb {args[0]} failed with exit status {done.returncode}")
    return done


def tb_env() -> dict[str, str]:
    env: dict[str, str] = {}
    out = subprocess.run([str(TB), "env"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip('"')
    return env


class RealServer:
    """The server on the bed (executor ssh, loop-file backend), database in .demo/heketi.db."""

    def __init__(self, bed: dict[str, str]) -> None:
        self.bed = bed
        self.port = free_port()
        config = {
            "port": str(self.port),
            "bind_address": "127.0.0.1",
            "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "demo-user-secret"}},
            "glusterfs": {
                "executor": "ssh",
                "brick_backend": "loopfile",
                "db": str(REAL_DIR / "heketi.db"),
                "loglevel": "info",
                "sshexec": {"keyfile": bed["TB_SSH_KEY"], "user": bed["TB_SSH_USER"], "port": "22"},
            },
        }
        (REAL_DIR / "heketi.json").write_text(json.dumps(config, indent=2))
        self.env = dict(os.environ)
        self.env.update(
            HEKETI_CLI_SERVER=f"http://127.0.0.1:{self.port}",
            HEKETI_CLI_USER="admin",
            HEKETI_CLI_KEY=ADMIN_KEY,
        )
        self.log = open(REAL_DIR / "server.log", "ab")  # noqa: SIM115 - kept open for the child
        heketi = str(Path(sys.executable).with_name("heketi"))
        print(f"$ heketi --config={REAL_DIR / 'heketi.json'}   (ssh executor, port {self.port})")
        self.process = subprocess.Popen(
            [heketi, f"--config={REAL_DIR / 'heketi.json'}"],
            stdout=self.log,
            stderr=self.log,
            cwd=REAL_DIR,
        )
        wait_for(f"http://127.0.0.1:{self.port}/hello", self.process)

    def cli(self, *args: str) -> str:
        return run(self.env, *args)

    def quiet(self, *args: str) -> object:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("heketi-cli")), "--json", *args],
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

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


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


def unmount() -> None:
    if subprocess.run(["mountpoint", "-q", str(MNT)], check=False).returncode == 0:
        print(f"$ umount {MNT}", flush=True)
        if subprocess.run(["umount", str(MNT)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(MNT)], check=False)


def real() -> None:
    REAL_DIR.mkdir(exist_ok=True)
    tb("install")
    up = tb("up")
    built = re.search(r"built: ([^;]*);", up.stderr)
    if built and built.group(1).strip() != "none":
        # new nodes with raw disks: a database from an earlier bed describes nothing real
        for leftover in REAL_DIR.glob("heketi.db*"):
            leftover.unlink()
    bed = tb_env()
    (REAL_DIR / "topology.json").write_text(json.dumps(real_topology(bed), indent=2))
    unmount()
    server = RealServer(bed)
    try:
        clusters = server.quiet("cluster", "list")
        if isinstance(clusters, dict) and clusters.get("clusters"):
            print("(topology already loaded: reusing it)")
        else:
            server.cli("topology", "load", f"--json={REAL_DIR / 'topology.json'}")
        server.cli("node", "list")
        volume_id = server.demo_volume()
        if volume_id is None:
            created = server.cli("volume", "create", "--size=1", f"--name={VOLUME_NAME}")
            volume_id = next(
                line.split(": ", 1)[1]
                for line in created.splitlines()
                if line.startswith("Volume Id:")
            )
        else:
            print(f"(volume {VOLUME_NAME} already there: reusing {volume_id})")
        info = server.cli("volume", "info", volume_id)
        mount_src = next(
            line.split(": ", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("Mount:")
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
        subprocess.run(argv, check=True, timeout=60)
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
            "3 test-bed nodes. The bed and .demo/heketi.db stay (a rerun reuses them); "
            "`make demo-clean` removes them."
        )
    finally:
        server.stop()


def clean() -> None:
    """`make demo-clean`: unmount, delete the demo volume, `tb down`, remove .demo."""
    if why_not_real() is None:
        unmount()
        bed_up = subprocess.run([str(TB), "status"], capture_output=True, check=False)
        if (REAL_DIR / "heketi.db").exists() and bed_up.returncode == 0:
            server = RealServer(tb_env())
            try:
                volume_id = server.demo_volume()
                if volume_id is not None:
                    server.cli("volume", "delete", volume_id)
            finally:
                server.stop()
        tb("down")
    shutil.rmtree(REAL_DIR, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "clean":
        clean()
        return
    reason = why_not_real()
    if reason is None:
        real()
        return
    print(f"Not running on real GlusterFS: {reason}. Falling back to the simulator.", flush=True)
    simulator()


if __name__ == "__main__":
    main()
