"""The dashboard as a person sees it, in headless Chromium: the right numbers in the right
places, a stopped node shown down, a failed operation with its steps, drift, the page
refreshing by itself, the login when authentication is on (and the key kept nowhere in the
browser), and a page of 1000 volumes timed (first paint under a second)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from brickyard.domain.ids import new_id
from brickyard.domain.model import Brick, Durability, DurabilityType, Volume
from integration.conftest import ONE_GIB_BRICK, Topology, brick_charge

from .conftest import ADMIN_KEY, USER_KEY, LiveServer

R3 = {"type": "replicate", "replicate": {"replica": 3}}
GIB_KIB = 1024 * 1024
RED = "rgb(179, 38, 30)"
FIRST_PAINT = "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime"


def _gib(kib: int) -> str:
    return f"{kib / GIB_KIB:.1f} GiB"


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_what_a_person_sees(live: LiveServer, browser: Any, artifacts: Path) -> None:
    h = live.harness
    topo: Topology = live.run(lambda: h.build_topology(nodes=3))
    big = live.run(lambda: h.create_volume(size=2, durability=R3))
    small = live.run(lambda: h.create_volume(size=1, durability=R3))
    # A create that fails: the third node's disk refuses every brick, so it is rolled back.
    live.world.fail(topo.manage[topo.nodes[2]], "brick_create", "disk on fire", times=10)

    async def failed_create() -> str:
        return await h.failed(await h.post("/volumes", {"size": 1, "durability": R3}))

    assert "disk on fire" in live.run(failed_create)
    # glusterd stops on the second node; the health monitor sees it.
    stopped = topo.nodes[1]
    live.world.nodes[topo.manage[stopped]].glusterd_running = False
    live.run(live.server.services.health.check_all)
    # A brick nobody knows on the first node: the examine finds it (drift).
    live.world.leak_brick(topo.manage[topo.nodes[0]], topo.devices[0], "cd" * 16, ONE_GIB_BRICK)
    report = live.run(lambda: h.get_json("/internal/state/examine"))
    status = live.run(lambda: h.get_json("/internal/status"))
    storage = live.run(h.device_storage)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    answer = page.goto(live.url + "/dashboard")
    assert answer is not None and answer.status == 200
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # Devices: name, and their used and free space next to it (as the database counts it).
    used = brick_charge(2 * GIB_KIB) + brick_charge(GIB_KIB)
    for device_id in topo.devices:
        row = f"#device-{device_id}"
        assert _text(page, f"{row} td.name") == "/dev/sdb"
        assert storage[device_id]["used"] == used
        assert _text(page, f"{row} .used") == _gib(used) == "3.0 GiB"
        assert _text(page, f"{row} .free") == _gib(storage[device_id]["total"] - used)
        assert _text(page, f"{row} .bricks") == "2"
        meter = page.locator(f"{row} meter")
        assert int(meter.get_attribute("value")) == used
    # Zones: one node each, the zone's capacity is its device's.
    zones = page.locator(f"#cluster-{topo.cluster} .zone")
    assert zones.count() == 3
    assert "Zone 2" in zones.nth(1).inner_text()
    # The stopped node shows down, in red; the others up.
    health = page.locator(f"#node-{stopped} td.health")
    assert health.inner_text().startswith("glusterd down")
    assert health.evaluate("e => getComputedStyle(e).color") == RED
    for node in (topo.nodes[0], topo.nodes[2]):
        assert _text(page, f"#node-{node} td.health").startswith("up")
    assert _text(page, "#count-nodes b") == "3"
    assert "1 down" in _text(page, "#count-nodes")
    assert f"node {topo.manage[stopped]} is glusterd down" in _text(page, "#attention")
    # Volumes: both degraded (a brick on the stopped node), with Heketi's mount line.
    for volume in (big, small):
        row = f"#volume-{volume['id']}"
        assert _text(page, f"{row} .name") == volume["name"]
        assert _text(page, f"{row} .health").startswith("degraded")
        assert "node down" in _text(page, f"{row} .health")
        glusterfs = volume["mount"]["glusterfs"]
        expected_mount = (
            f"{glusterfs['device']} backup-volfile-servers="
            f"{glusterfs['options']['backup-volfile-servers']}"
        )
        assert _text(page, f"{row} .mount") == expected_mount
    # Bricks fold away; opened, they list host:path, the stopped node's marked.
    row = f"#volume-{big['id']}"
    page.locator(f"{row} summary").click()
    bricks = page.locator(f"{row} details li")
    assert bricks.count() == 3
    texts = [bricks.nth(i).inner_text() for i in range(3)]
    expected = {f"{b['path']}" for b in big["bricks"]}
    assert {t.split(":", 1)[1].removesuffix(" (node down)") for t in texts} == expected
    assert sum("(node down)" in t for t in texts) == 1
    # The failed create, with its error and the steps it had done.
    (failure,) = status["failures"]
    assert failure["steps"]
    row = f"#failure-{failure['id']}"
    assert "disk on fire" in _text(page, f"{row} .error")
    steps = page.locator(f"{row} ol.steps li")
    assert [steps.nth(i).inner_text() for i in range(steps.count())] == failure["steps"]
    assert _text(page, "#count-failures b") == "1"
    # Drift from the examine.
    assert report["remaining"] > 0
    assert _text(page, "#drift-count") == str(report["remaining"])
    page.locator("#volumes").screenshot(path=str(artifacts / "dashboard-volumes.png"))
    page.close()


def test_an_operation_in_flight_shows_its_steps(
    live: LiveServer, browser: Any, artifacts: Path
) -> None:
    h = live.harness
    live.run(lambda: h.build_topology(nodes=3))
    live.world.delay = 1.0  # every node command takes a second: the create stays in flight

    async def start() -> httpx.Response:
        return await h.post("/volumes", {"size": 1, "durability": R3})

    accepted = live.run(start)
    page = browser.new_page()
    deadline = time.monotonic() + 20
    while True:
        page.goto(live.url + "/dashboard")
        rows = page.locator("#operations tr.operation")
        if rows.count() and page.locator("#operations ol.steps li").count():
            break
        assert time.monotonic() < deadline, page.content()
        time.sleep(0.2)
    assert rows.first.locator("td").nth(0).inner_text().startswith("running")
    assert rows.first.locator("td").nth(1).inner_text() == "create-volume"
    page.screenshot(path=str(artifacts / "dashboard-in-flight.png"), full_page=True)
    live.world.delay = 0
    live.run(lambda: h.ok_303(accepted, "/volumes"))
    page.close()


def test_the_page_refreshes_by_itself(live: LiveServer, browser: Any) -> None:
    h = live.harness
    live.run(lambda: h.build_topology(nodes=3))
    page = browser.new_page()
    page.goto(live.url + "/dashboard?refresh=2")
    assert _text(page, "#count-volumes b") == "0"
    live.run(lambda: h.create_volume(size=1, durability=R3))
    # No navigation by the test: the page reloads itself and shows the new volume.
    page.wait_for_function(
        "() => document.querySelector('#count-volumes b')?.textContent === '1'", timeout=10000
    )
    page.close()


def test_login_when_authentication_is_on(
    live_auth: LiveServer, browser: Any, artifacts: Path
) -> None:
    live = live_auth
    topo: Topology = live.run(lambda: live.harness.build_topology(nodes=3))
    context = browser.new_context()
    page = context.new_page()
    answer = page.goto(live.url + "/dashboard")
    assert answer is not None and answer.status == 401
    # No data without the key: only the form.
    assert page.locator("form input[name=key]").count() == 1
    assert topo.manage[topo.nodes[0]] not in page.content()
    assert httpx.get(live.url + "/internal/status").status_code == 401
    page.screenshot(path=str(artifacts / "dashboard-login.png"))

    page.select_option("#user", "admin")
    page.fill("#key", "not the key")
    page.click("button[type=submit]")
    assert _text(page, "#login-error") == "Wrong user or key."
    assert topo.manage[topo.nodes[0]] not in page.content()

    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector(f"#node-{topo.nodes[0]}")
    assert topo.manage[topo.nodes[0]] in _text(page, f"#node-{topo.nodes[0]}")
    assert "signed in as admin" in _text(page, "header")
    # The browser keeps a signed session, never the key.
    (cookie,) = context.cookies()
    assert cookie["name"] == "brickyard_session"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/dashboard"
    assert ADMIN_KEY not in cookie["value"] and ADMIN_KEY.replace(" ", "") not in cookie["value"]
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert stored == "[[],[]]"
    assert page.evaluate("() => document.cookie") == ""  # HttpOnly: no script sees it
    # A forged or tampered cookie is refused.
    forged = dict(cookie, value=cookie["value"][:-2] + "AA")
    other = browser.new_context()
    other.add_cookies([forged])
    assert other.new_page().goto(live.url + "/dashboard").status == 401
    other.close()
    # Sign out: back to the form.
    page.click("header form button")
    page.wait_for_selector("form input[name=key]")
    assert context.cookies() == []

    # The user key signs in too (read-only page).
    page.fill("#key", USER_KEY)
    page.select_option("#user", "user")
    page.click("button[type=submit]")
    page.wait_for_selector(f"#node-{topo.nodes[0]}")
    assert "signed in as user" in _text(page, "header")
    context.close()


def _add_volumes(live: LiveServer, topo: Topology, count: int) -> None:
    """`count` replica-3 volumes of 1 GiB written straight to the database (as many creates
    would leave them: bricks on each device, space charged), without the node work."""
    volumes: list[Volume] = []
    bricks: list[Brick] = []
    for _ in range(count):
        volume_id = new_id()
        volumes.append(
            Volume(
                volume_id,
                topo.cluster,
                f"vol_{volume_id}",
                1,
                Durability(DurabilityType.REPLICATE, 3),
            )
        )
        for position, device in enumerate(topo.devices):
            bricks.append(
                Brick(
                    new_id(),
                    volume_id,
                    device,
                    topo.device_node[device],
                    GIB_KIB,
                    GIB_KIB,
                    ONE_GIB_BRICK - GIB_KIB,
                    0,
                    position,
                )
            )

    async def write() -> None:
        with live.server.store.write() as tx:
            tx.add_all(volumes)
            tx.add_all(bricks)
            tx.adjust_device_space({d: count * ONE_GIB_BRICK for d in topo.devices})

    live.run(write)


def test_a_thousand_volumes_first_paint_under_a_second(
    tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    live = LiveServer(tmp_path, auth=False, device_size_gb=2000)
    try:
        topo: Topology = live.run(lambda: live.harness.build_topology(nodes=3))
        _add_volumes(live, topo, 1000)
        started = time.perf_counter()
        answer = httpx.get(live.url + "/dashboard")
        server_seconds = time.perf_counter() - started
        assert answer.status_code == 200
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(live.url + "/dashboard")
        # Chromium reports the paint once the frame is out: wait for the entry, then read it
        # (its time counts from the start of the navigation, the server's answer included).
        page.wait_for_function(FIRST_PAINT + " !== undefined", timeout=10000)
        first_paint = float(page.evaluate(FIRST_PAINT))
        print(
            f"\n1000 volumes: server answer {server_seconds * 1000:.0f} ms, "
            f"{len(answer.content) // 1024} KiB; first contentful paint {first_paint:.0f} ms"
        )
        (artifacts / "dashboard-1000-volumes.txt").write_text(
            f"server answer {server_seconds * 1000:.0f} ms, {len(answer.content)} bytes, "
            f"first contentful paint {first_paint:.0f} ms\n"
        )
        assert first_paint < 1000
        assert _text(page, "#count-volumes b") == "1000"
        assert page.locator("#volumes tr.volume").count() == 100  # one page of 100
        assert page.locator("#volumes .pages").first.locator("a").count() == 9
        page.screenshot(path=str(artifacts / "dashboard-1000-volumes.png"))
        page.goto(live.url + "/dashboard?page=10")
        assert page.locator("#volumes tr.volume").count() == 100
        page.close()
    finally:
        live.stop()
