"""`make demo` leaves a server to use and prints how; `make demo-clean` takes it away; and the
demo and the e2e suite never touch each other's bed.

The demo runs here as a user runs it (`make demo`, `make demo-clean`), with a directory and a
bed of its own (BRICKYARD_DEMO_DIR, TB_NAME=e2edemo), so it never disturbs a user's demo (bed
tb, .demo) nor the suite's bed (e2e).  The printed lines are run as printed, in a fresh shell
without the venv on PATH."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import REPO, TB, Proc, Testbed, bed_env, run, set_up_bed

pytestmark = pytest.mark.e2e

DEMO_BED = "e2edemo"  # TB_NAME of the demo's bed here; a user's demo has tb


def demo_env(demo_dir: Path, simulator: bool = False) -> dict[str, str]:
    """The environment of a user who runs the demo in `demo_dir` on the bed e2edemo."""
    env = {
        k: v for k, v in bed_env(DEMO_BED).items() if not k.startswith(("HEKETI_", "BRICKYARD_"))
    }
    env["BRICKYARD_DEMO_DIR"] = str(demo_dir)
    if simulator:
        env["BRICKYARD_DEMO_SIMULATOR"] = "1"
    return env


def make(target: str, env: dict[str, str]) -> Proc:
    """`make TARGET` in the checkout.  -o: never reinstall the venv under the running tests, as
    make would if pyproject.toml is newer than the venv's stamp.  Returns only once make and
    everything holding its output have finished: a server left holding the pipe hangs here."""
    return run(["make", "-C", REPO, "-o", ".venv/.installed", target], env=env, timeout=600)


def printed_lines(output: str) -> list[str]:
    """The lines the demo prints to use its server (indented, after "To use it")."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "To use it from a shell" in line)
    block = []
    for line in lines[start + 1 :]:
        if line.startswith("    "):
            block.append(line.strip())
        elif block:
            break
    return block


def in_fresh_shell(lines: list[str]) -> Proc:
    """The printed lines as a user pastes them: a new bash, no HEKETI_* and no venv on PATH."""
    clean = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
    }
    return run(["bash", "--noprofile", "--norc", "-e", "-c", "\n".join(lines)], env=clean)


def servers_of(demo_dir: Path) -> list[int]:
    """Live (not zombie) processes running `heketi --config=<demo_dir>/heketi.json`."""
    wanted = f"--config={demo_dir / 'heketi.json'}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if wanted in argv and state != "Z":
            found.append(int(proc.name))
    return found


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def netns_names() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line}


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    """A demo directory; whatever a failing test left there `make demo-clean` removes (the
    server, and the bed if the demo made one)."""
    path = tmp_path / "demo"
    try:
        yield path
    finally:
        if servers_of(path) or path.exists():
            subprocess.run(
                ["make", "-C", str(REPO), "-o", ".venv/.installed", "demo-clean"],
                env=demo_env(path),
                capture_output=True,
                timeout=600,
                check=False,
            )


def test_demo_server_answers_until_demo_clean(testbed: Testbed, demo_dir: Path) -> None:
    env = demo_env(demo_dir)
    run([TB, "down"], env=bed_env(DEMO_BED))  # what an aborted earlier run may have left
    t = time.monotonic()
    demo = make("demo", env)
    took = time.monotonic() - t
    assert "Demo done: volume demo" in demo.stdout, demo.stdout
    assert f"test bed '{DEMO_BED}'" in demo.stdout, demo.stdout  # its own bed, not tb
    lines = printed_lines(demo.stdout)
    assert lines[0].startswith("export HEKETI_CLI_SERVER=http://127.0.0.1:"), lines
    url = lines[0].split("=", 1)[1]
    assert lines[1].startswith("export HEKETI_CLI_USER=admin HEKETI_CLI_KEY="), lines
    assert lines[2].endswith("heketi-cli volume list"), lines

    # after make returned: one server, detached (a session of its own), answering
    pid = int((demo_dir / "server.pid").read_text())
    assert servers_of(demo_dir) == [pid]
    assert os.getsid(pid) == pid != os.getsid(0)
    hello = httpx.get(url + "/hello", timeout=5)
    assert (hello.status_code, hello.text.strip()) == (200, "Hello from Heketi")
    assert httpx.get(url + "/clusters", timeout=5).status_code == 401  # the key is needed
    listed = in_fresh_shell(lines).stdout
    assert re.search(r"^Id:[0-9a-f]{32}\s+Cluster:[0-9a-f]{32}\s+Name:demo$", listed, re.M), listed

    # a rerun reuses the server: same process, same address, still one
    t = time.monotonic()
    again = make("demo", env)
    rerun = time.monotonic() - t
    assert "(the demo server is running: reusing it" in again.stdout, again.stdout
    assert printed_lines(again.stdout) == lines
    assert servers_of(demo_dir) == [pid]

    # the e2e suite's bed setup (`tb down`, `tb up` of the e2e bed) leaves the demo's bed alone
    demo_bed = Testbed.from_tb_env(bed_env(DEMO_BED))
    assert set(demo_bed.netns) <= netns_names()
    assert not set(demo_bed.netns) & set(testbed.netns)
    set_up_bed(keep=False)
    assert set(demo_bed.netns) <= netns_names()
    assert demo_bed.tb("status").returncode == 0
    info = demo_bed.x(1, "gluster", "--mode=script", "volume", "info", "demo").stdout
    assert "Status: Started" in info, info
    assert servers_of(demo_dir) == [pid]
    assert re.search(r"Name:demo$", in_fresh_shell(lines).stdout, re.M)

    t = time.monotonic()
    cleaned = make("demo-clean", env)
    took_clean = time.monotonic() - t
    assert f"(stopped the demo server, pid {pid})" in cleaned.stdout, cleaned.stdout
    assert servers_of(demo_dir) == []
    assert refuses(url)
    assert demo_bed.tb("status", check=False).returncode == 1  # "no test bed in ..."
    assert not set(demo_bed.netns) & netns_names()
    assert not demo_dir.exists()
    # ...and the demo's clean-up left the suite's bed running
    assert testbed.tb("status").returncode == 0
    print(f"timings: demo {took:.1f} s, rerun {rerun:.1f} s, demo-clean {took_clean:.1f} s")


def test_simulator_demo_server_answers_until_demo_clean(demo_dir: Path) -> None:
    if os.environ.get("BRICKYARD_E2E") == "0":  # the simulator needs no root nor bed
        pytest.skip("BRICKYARD_E2E=0")
    env = demo_env(demo_dir, simulator=True)
    demo = make("demo", env)
    assert "Falling back to the simulator" in demo.stdout, demo.stdout
    lines = printed_lines(demo.stdout)
    url = lines[0].split("=", 1)[1]
    pid = int((demo_dir / "server.pid").read_text())
    assert servers_of(demo_dir) == [pid]
    assert os.getsid(pid) == pid != os.getsid(0)
    assert not (demo_dir / "bed.json").exists()  # no bed was used
    listed = in_fresh_shell(lines).stdout
    assert re.search(r"Name:demo$", listed, re.M), listed

    cleaned = make("demo-clean", env)
    assert f"(stopped the demo server, pid {pid})" in cleaned.stdout, cleaned.stdout
    assert "testbed/tb down" not in cleaned.stdout  # it made no bed, it removes none
    assert servers_of(demo_dir) == []
    assert refuses(url)
    assert not demo_dir.exists()
