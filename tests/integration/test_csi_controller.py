"""CSI contract tests of the Identity and Controller services over a real unix socket, with a
gRPC client, against a real ``heketi`` server subprocess on the simulator.

Every RPC; idempotency of CreateVolume (same name twice, a retry while the first create still
runs, an incompatible size); the error codes the sidecars act on; bad input (a clear status
naming the problem, never a traceback, never a volume left behind); a storm of 30 concurrent
CreateVolume calls."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from brickyard.csi.ids import volume_name

from .conftest import DatabaseFactory
from .csi_helpers import (
    ADMIN_KEY,
    GIB,
    Driver,
    Heketi,
    block_cap,
    code_of,
    create_request,
    csi_driver,
    free_port,
    heketi_server,
    mount_cap,
    pb,
)

C = grpc.StatusCode


# The servers behind the driver run on SQLite and on PostgreSQL: the driver's idempotency rests
# on what the server stores and answers (names, gids, sizes), under concurrent creates too.
@pytest.fixture(scope="module")
def heketi(
    tmp_path_factory: pytest.TempPathFactory, module_new_database: DatabaseFactory
) -> Iterator[Heketi]:
    workdir = tmp_path_factory.mktemp("csi-heketi")
    with heketi_server(workdir, db=module_new_database(workdir)) as server:
        yield server


@pytest.fixture(scope="module")
def driver(heketi: Heketi) -> Iterator[Driver]:
    with csi_driver(server=heketi.url, key=ADMIN_KEY) as d:
        yield d


@pytest.fixture(scope="module")
def slow_heketi(
    tmp_path_factory: pytest.TempPathFactory, module_new_database: DatabaseFactory
) -> Iterator[Heketi]:
    """Every simulated node command takes 200 ms: a create takes about half a second."""
    workdir = tmp_path_factory.mktemp("csi-slow")
    db = module_new_database(workdir)
    with heketi_server(workdir, db=db, delay_ms=200, max_inflight=8) as s:
        yield s


def names_on(heketi: Heketi) -> list[str]:
    return sorted(str(v["name"]) for v in heketi.volumes())


# ---- Identity --------------------------------------------------------------------------------


def test_identity(driver: Driver) -> None:
    info = driver.identity.GetPluginInfo(pb.GetPluginInfoRequest())
    assert info.name == "glusterfs.brickyard.io" and info.vendor_version
    caps = driver.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest()).capabilities
    service = pb.PluginCapability.Service
    expansion = pb.PluginCapability.VolumeExpansion
    assert [c.service.type for c in caps if c.HasField("service")] == [service.CONTROLLER_SERVICE]
    assert [c.volume_expansion.type for c in caps if c.HasField("volume_expansion")] == [
        expansion.ONLINE
    ]
    assert driver.identity.Probe(pb.ProbeRequest()).ready.value is True


def test_probe_fails_when_the_server_does_not_answer() -> None:
    with csi_driver(server=f"http://127.0.0.1:{free_port()}") as d:
        code, message = code_of(d.identity.Probe, pb.ProbeRequest())
    assert code == C.FAILED_PRECONDITION and "/hello" in message


def test_unimplemented_rpcs_say_so(driver: Driver) -> None:
    code, message = code_of(
        driver.controller.CreateSnapshot, pb.CreateSnapshotRequest(name="s", source_volume_id="x")
    )
    assert code == C.UNIMPLEMENTED and "CreateSnapshot" in message
    code, _ = code_of(driver.node.NodeGetInfo, pb.NodeGetInfoRequest())
    assert code == C.UNIMPLEMENTED  # controller mode serves no Node service


def test_controller_capabilities(driver: Driver) -> None:
    caps = driver.controller.ControllerGetCapabilities(pb.ControllerGetCapabilitiesRequest())
    rpc = pb.ControllerServiceCapability.RPC
    assert {c.rpc.type for c in caps.capabilities} == {
        rpc.CREATE_DELETE_VOLUME,
        rpc.LIST_VOLUMES,
        rpc.GET_CAPACITY,
        rpc.CLONE_VOLUME,
        rpc.EXPAND_VOLUME,
    }


# ---- CreateVolume ----------------------------------------------------------------------------


def test_create_volume_with_in_tree_parameters(driver: Driver, heketi: Heketi) -> None:
    params = {
        "resturl": heketi.url,
        "restuser": "admin",
        "restuserkey": ADMIN_KEY,
        "volumetype": "replicate:3",
        "gidMin": "40000",
        "GIDMAX": "50000",
        "volumenameprefix": "app",
        "customepnameprefix": "ignored",
        "volumeoptions": "performance.quick-read off, performance.read-ahead off",
        "snapfactor": "1",
    }
    request = create_request("pvc-0a1b2c3d-0000-4000-8000-000000000001", 3 * GIB + 1, params)
    volume = driver.controller.CreateVolume(request).volume
    assert volume.capacity_bytes == 4 * GIB  # rounded up to whole GiB
    # the class's resturl is the driver's own server: the id is the bare Heketi id
    assert len(volume.volume_id) == 32
    context = dict(volume.volume_context)
    assert context["volume"] == "app_pvc-0a1b2c3d-0000-4000-8000-000000000001"
    assert context["heketi-volume-id"] == volume.volume_id
    assert context["gid"] == "40000"
    assert context["server"] in {"10.1.0.1", "10.1.0.2", "10.1.0.3"}
    backups = context["backup-volfile-servers"].split(",")
    assert sorted([context["server"], *backups]) == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    with heketi.client() as c:
        info = c.volume_info(volume.volume_id)
    assert info["gid"] == 40000 and info["size"] == 4
    assert info["durability"]["replicate"]["replica"] == 3
    assert "performance.quick-read off" in info["glustervolumeoptions"]


def test_gids_are_the_lowest_free_of_the_range_read_from_the_server(
    driver: Driver, heketi: Heketi
) -> None:
    params = {"gidMin": "60000", "gidMax": "60002"}
    got = [
        dict(
            driver.controller.CreateVolume(
                create_request(f"pvc-gid-{i}", 1, params)
            ).volume.volume_context
        )["gid"]
        for i in range(3)
    ]
    assert got == ["60000", "60001", "60002"]
    code, message = code_of(driver.controller.CreateVolume, create_request("pvc-gid-3", 1, params))
    assert code == C.RESOURCE_EXHAUSTED and "60000..60002" in message
    # a gid freed on the server is found again (no allocator in memory)
    first = next(v for v in heketi.volumes() if v["name"] == "vol_pvc-gid-0")
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=first["id"]))
    again = driver.controller.CreateVolume(create_request("pvc-gid-3", 1, params)).volume
    assert again.volume_context["gid"] == "60000"


def test_same_name_twice_returns_the_same_volume(driver: Driver, heketi: Heketi) -> None:
    first = driver.controller.CreateVolume(create_request("pvc-twice", 2 * GIB)).volume
    second = driver.controller.CreateVolume(create_request("pvc-twice", 2 * GIB)).volume
    assert first == second
    # a smaller request is compatible too (the volume is at least as big)
    third = driver.controller.CreateVolume(create_request("pvc-twice", GIB)).volume
    assert third.volume_id == first.volume_id
    assert names_on(heketi).count("vol_pvc-twice") == 1


def test_same_name_incompatible_size_is_already_exists(driver: Driver, heketi: Heketi) -> None:
    driver.controller.CreateVolume(create_request("pvc-size", GIB))
    code, message = code_of(driver.controller.CreateVolume, create_request("pvc-size", 5 * GIB))
    assert code == C.ALREADY_EXISTS and "vol_pvc-size" in message and "size" in message
    req = create_request("pvc-size", GIB, {"volumetype": "none"})
    code, message = code_of(driver.controller.CreateVolume, req)
    assert code == C.ALREADY_EXISTS and "volume type" in message
    assert names_on(heketi).count("vol_pvc-size") == 1


def test_retry_while_the_first_create_runs_is_aborted(slow_heketi: Heketi) -> None:
    """A retry whose deadline is too short to wait for the running create: ABORTED at once."""
    with csi_driver(server=slow_heketi.url, key=ADMIN_KEY) as d:
        results: list[Any] = []
        first = threading.Thread(
            target=lambda: results.append(d.controller.CreateVolume(create_request("pvc-slow")))
        )
        first.start()
        time.sleep(0.1)
        # the sidecar's deadline passed and it calls again with the same name
        started = time.monotonic()
        code, message = code_of(d.controller.CreateVolume, create_request("pvc-slow"), timeout=0.4)
        assert code == C.ABORTED and "vol_pvc-slow" in message and "in progress" in message
        assert time.monotonic() - started < 0.4
        first.join(30)
        assert results, "the first create did not finish"
        again = d.controller.CreateVolume(create_request("pvc-slow")).volume
        assert again == results[0].volume
    assert names_on(slow_heketi).count("vol_pvc-slow") == 1


def test_a_retry_waits_for_the_running_create_within_its_deadline(slow_heketi: Heketi) -> None:
    """The sidecar's retry with time left is answered as soon as the first create ends (not
    after its own backoff), with the same volume: never a second one."""
    with csi_driver(server=slow_heketi.url, key=ADMIN_KEY) as d:
        results: list[Any] = []
        first = threading.Thread(
            target=lambda: results.append(d.controller.CreateVolume(create_request("pvc-wait")))
        )
        first.start()
        time.sleep(0.1)
        retried = d.controller.CreateVolume(create_request("pvc-wait"), timeout=20).volume
        first.join(30)
        assert results and retried == results[0].volume
    assert names_on(slow_heketi).count("vol_pvc-wait") == 1


def test_a_retry_whose_first_call_timed_out_finds_the_volume(slow_heketi: Heketi) -> None:
    with csi_driver(server=slow_heketi.url, key=ADMIN_KEY) as d:
        code, _ = code_of(d.controller.CreateVolume, create_request("pvc-late"), timeout=0.05)
        assert code == C.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 30
        while True:
            try:
                volume = d.controller.CreateVolume(create_request("pvc-late"), timeout=10).volume
                break
            except grpc.RpcError as exc:
                assert exc.code() == C.ABORTED, exc.details()
                assert time.monotonic() < deadline
                time.sleep(0.1)
    assert volume.volume_context["volume"] == "vol_pvc-late"
    assert names_on(slow_heketi).count("vol_pvc-late") == 1


def test_server_busy_is_unavailable(tmp_path: Path, new_database: DatabaseFactory) -> None:
    workdir = tmp_path / "busy"
    workdir.mkdir()
    with (
        heketi_server(workdir, db=new_database(workdir), delay_ms=200, max_inflight=1) as busy,
        csi_driver(server=busy.url, key=ADMIN_KEY) as d,
    ):
        runner = threading.Thread(target=d.controller.CreateVolume, args=(create_request("pvc-a"),))
        runner.start()
        time.sleep(0.1)
        started = time.monotonic()
        code, message = code_of(d.controller.CreateVolume, create_request("pvc-b"))
        assert time.monotonic() - started < 2  # answered at once, not after the CLI's patience
        runner.join(30)
        assert code == C.UNAVAILABLE and "429" in message
        assert names_on(busy) == ["vol_pvc-a"]


def test_clone_then_expand(driver: Driver, heketi: Heketi) -> None:
    source = driver.controller.CreateVolume(create_request("pvc-origin", GIB)).volume
    content = pb.VolumeContentSource(
        volume=pb.VolumeContentSource.VolumeSource(volume_id=source.volume_id)
    )
    request = create_request("pvc-copy", 3 * GIB, volume_content_source=content)
    clone = driver.controller.CreateVolume(request).volume
    assert clone.capacity_bytes == 3 * GIB
    assert clone.content_source.volume.volume_id == source.volume_id
    assert clone.volume_context["volume"] == "vol_pvc-copy"
    assert clone.volume_id != source.volume_id
    again = driver.controller.CreateVolume(request).volume
    assert again.volume_id == clone.volume_id
    missing = pb.VolumeContentSource(volume=pb.VolumeContentSource.VolumeSource(volume_id="f" * 32))
    code, _ = code_of(
        driver.controller.CreateVolume,
        create_request("pvc-copy2", GIB, volume_content_source=missing),
    )
    assert code == C.NOT_FOUND
    snap = pb.VolumeContentSource(snapshot=pb.VolumeContentSource.SnapshotSource(snapshot_id="s"))
    code, message = code_of(
        driver.controller.CreateVolume, create_request("pvc-copy3", GIB, volume_content_source=snap)
    )
    assert code == C.INVALID_ARGUMENT and "snapshot" in message
    assert "vol_pvc-copy2" not in names_on(heketi) and "vol_pvc-copy3" not in names_on(heketi)


def test_other_server_gets_an_id_that_names_it(driver: Driver, heketi: Heketi) -> None:
    other = heketi.url.replace("127.0.0.1", "localhost")
    params = {"resturl": other, "volumetype": "replicate:2"}
    secrets = {"key": ADMIN_KEY, "user": "admin"}
    volume = driver.controller.CreateVolume(
        create_request("pvc-other", GIB, params, secrets=secrets)
    ).volume
    port = other.rsplit(":", 1)[1]
    assert volume.volume_id == f"{volume.volume_context['heketi-volume-id']}_http_localhost_{port}"
    grown = driver.controller.ControllerExpandVolume(
        pb.ControllerExpandVolumeRequest(
            volume_id=volume.volume_id,
            capacity_range=pb.CapacityRange(required_bytes=2 * GIB),
            secrets=secrets,
        )
    )
    assert grown.capacity_bytes == 2 * GIB
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume.volume_id))
    assert "vol_pvc-other" not in names_on(heketi)


# ---- bad input: a clear status, nothing made ---------------------------------------------


BAD_CREATES = [
    (create_request(""), C.INVALID_ARGUMENT, "name is required"),
    (
        pb.CreateVolumeRequest(name="pvc-bad-block", volume_capabilities=[block_cap()]),
        C.INVALID_ARGUMENT,
        "block access type",
    ),
    (pb.CreateVolumeRequest(name="pvc-bad-nocap"), C.INVALID_ARGUMENT, "volume_capabilities"),
    (create_request("pvc-bad-key", params={"nosuch": "1"}), C.INVALID_ARGUMENT, '"nosuch"'),
    (create_request("pvc-bad-gid", params={"gidMin": "abc"}), C.INVALID_ARGUMENT, "gidMin"),
    (
        create_request("pvc-bad-gid2", params={"gidMin": "3000", "gidMax": "2500"}),
        C.INVALID_ARGUMENT,
        "gidMax value >= gidMin",
    ),
    (
        create_request("pvc-bad-type", params={"volumetype": "mirror:2"}),
        C.INVALID_ARGUMENT,
        "volumetype",
    ),
    (
        create_request("pvc-bad-secret", params={"secretName": "s"}),
        C.INVALID_ARGUMENT,
        "secretNamespace and secretName",
    ),
    (
        create_request("pvc-bad-nokey", secrets={"password": "x"}),
        C.INVALID_ARGUMENT,
        "no data key 'key'",
    ),
    (
        create_request("pvc-bad-url", params={"resturl": "ftp://x"}),
        C.INVALID_ARGUMENT,
        "resturl",
    ),
    (
        create_request("pvc-bad-long", params={"resturl": "http://" + "h" * 100 + ".example"}),
        C.INVALID_ARGUMENT,
        "too long",
    ),
    (
        pb.CreateVolumeRequest(
            name="pvc-bad-limit",
            capacity_range=pb.CapacityRange(required_bytes=GIB + 1, limit_bytes=GIB + 2),
            volume_capabilities=[mount_cap()],
        ),
        C.OUT_OF_RANGE,
        "limit_bytes",
    ),
    (
        create_request("pvc-bad-key2", secrets={"key": "wrong"}),
        C.UNAUTHENTICATED,
        "",
    ),
]


@pytest.mark.parametrize(("request_", "code", "text"), BAD_CREATES)
def test_bad_create_is_refused_clearly(
    driver: Driver, heketi: Heketi, request_: Any, code: grpc.StatusCode, text: str
) -> None:
    before = names_on(heketi)
    got, message = code_of(driver.controller.CreateVolume, request_)
    assert got == code, message
    assert text in message
    assert "Traceback" not in message
    assert names_on(heketi) == before


def test_unreachable_server_is_unavailable(driver: Driver) -> None:
    params = {"resturl": f"http://127.0.0.1:{free_port()}"}
    code, message = code_of(
        driver.controller.CreateVolume, create_request("pvc-nowhere", 1, params)
    )
    assert code == C.UNAVAILABLE and "unreachable" in message


def test_no_space_is_resource_exhausted_with_the_reason(driver: Driver, heketi: Heketi) -> None:
    code, message = code_of(driver.controller.CreateVolume, create_request("pvc-huge", 2000 * GIB))
    assert code == C.RESOURCE_EXHAUSTED and "No space" in message
    assert "vol_pvc-huge" not in names_on(heketi)


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "xyz",
        "F" * 32,
        "a" * 31,
        "a" * 32 + "_",
        "a" * 32 + "_ftp_x_1",
        "a" * 32 + "_http_x_99999",
        "a" * 32 + "_b32_11",
        "a" * 32 + "@http://x",
        "a" * 200,
    ],
)
def test_volume_id_of_the_wrong_shape(driver: Driver, bad_id: str) -> None:
    calls = [
        (driver.controller.DeleteVolume, pb.DeleteVolumeRequest(volume_id=bad_id)),
        (
            driver.controller.ControllerExpandVolume,
            pb.ControllerExpandVolumeRequest(
                volume_id=bad_id, capacity_range=pb.CapacityRange(required_bytes=GIB)
            ),
        ),
        (
            driver.controller.ValidateVolumeCapabilities,
            pb.ValidateVolumeCapabilitiesRequest(
                volume_id=bad_id, volume_capabilities=[mount_cap()]
            ),
        ),
    ]
    for call, request in calls:
        code, message = code_of(call, request)
        assert code == C.INVALID_ARGUMENT and "volume id" in message, message


# ---- DeleteVolume, ControllerExpandVolume, ValidateVolumeCapabilities ------------------------


def test_delete_volume_is_idempotent(driver: Driver, heketi: Heketi) -> None:
    volume = driver.controller.CreateVolume(create_request("pvc-del")).volume
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume.volume_id))
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume.volume_id))
    driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id="0" * 32))
    assert "vol_pvc-del" not in names_on(heketi)


def test_expand_volume(driver: Driver, heketi: Heketi) -> None:
    volume = driver.controller.CreateVolume(create_request("pvc-grow", GIB)).volume

    def expand(size: int) -> Any:
        return driver.controller.ControllerExpandVolume(
            pb.ControllerExpandVolumeRequest(
                volume_id=volume.volume_id,
                capacity_range=pb.CapacityRange(required_bytes=size),
                volume_capability=mount_cap(),
            )
        )

    grown = expand(2 * GIB + 5)
    assert grown.capacity_bytes == 3 * GIB and not grown.node_expansion_required
    assert expand(2 * GIB).capacity_bytes == 3 * GIB  # already big enough: unchanged
    with heketi.client() as c:
        assert c.volume_info(volume.volume_id)["size"] == 3
    code, _ = code_of(
        driver.controller.ControllerExpandVolume,
        pb.ControllerExpandVolumeRequest(
            volume_id="e" * 32, capacity_range=pb.CapacityRange(required_bytes=GIB)
        ),
    )
    assert code == C.NOT_FOUND
    code, message = code_of(
        driver.controller.ControllerExpandVolume,
        pb.ControllerExpandVolumeRequest(volume_id=volume.volume_id),
    )
    assert code == C.INVALID_ARGUMENT and "capacity_range" in message


def test_validate_volume_capabilities(driver: Driver) -> None:
    volume = driver.controller.CreateVolume(create_request("pvc-valid")).volume
    ok = driver.controller.ValidateVolumeCapabilities(
        pb.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id,
            volume_capabilities=[mount_cap()],
            volume_context=volume.volume_context,
        )
    )
    assert list(ok.confirmed.volume_capabilities) == [mount_cap()]
    refused = driver.controller.ValidateVolumeCapabilities(
        pb.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[block_cap()]
        )
    )
    assert not refused.HasField("confirmed") and "block" in refused.message
    code, _ = code_of(
        driver.controller.ValidateVolumeCapabilities,
        pb.ValidateVolumeCapabilitiesRequest(volume_id="d" * 32, volume_capabilities=[mount_cap()]),
    )
    assert code == C.NOT_FOUND
    code, _ = code_of(
        driver.controller.ValidateVolumeCapabilities,
        pb.ValidateVolumeCapabilitiesRequest(volume_id=volume.volume_id),
    )
    assert code == C.INVALID_ARGUMENT


# ---- ListVolumes, GetCapacity ----------------------------------------------------------------


def test_list_volumes_pages(driver: Driver, heketi: Heketi) -> None:
    for i in range(3):
        driver.controller.CreateVolume(create_request(f"pvc-list-{i}"))
    everything = driver.controller.ListVolumes(pb.ListVolumesRequest())
    assert not everything.next_token
    all_ids = [e.volume.volume_id for e in everything.entries]
    assert sorted(all_ids) == sorted(v["id"] for v in heketi.volumes())
    seen: list[str] = []
    token = ""
    while True:
        page = driver.controller.ListVolumes(
            pb.ListVolumesRequest(max_entries=2, starting_token=token)
        )
        assert len(page.entries) <= 2
        seen += [e.volume.volume_id for e in page.entries]
        token = page.next_token
        if not token:
            break
    assert seen == all_ids
    code, _ = code_of(driver.controller.ListVolumes, pb.ListVolumesRequest(starting_token="zz"))
    assert code == C.ABORTED
    code, _ = code_of(driver.controller.ListVolumes, pb.ListVolumesRequest(starting_token="99999"))
    assert code == C.ABORTED


def test_get_capacity(driver: Driver, heketi: Heketi) -> None:
    with heketi.client() as c:
        topo = c.topology()
    free = sum(
        d["storage"]["free"] for cl in topo["clusters"] for n in cl["nodes"] for d in n["devices"]
    )
    three = driver.controller.GetCapacity(pb.GetCapacityRequest(parameters={})).available_capacity
    none = driver.controller.GetCapacity(
        pb.GetCapacityRequest(parameters={"volumetype": "none"})
    ).available_capacity
    assert none == free * 1024 and abs(three - free * 1024 // 3) <= 1
    code, _ = code_of(driver.controller.GetCapacity, pb.GetCapacityRequest(parameters={"x": "1"}))
    assert code == C.INVALID_ARGUMENT


# ---- the storm -------------------------------------------------------------------------------


RETRYABLE = {C.UNAVAILABLE, C.ABORTED, C.DEADLINE_EXCEEDED}


def test_storm_of_30_concurrent_creates(slow_heketi: Heketi) -> None:
    """30 PVCs at once, each retried as the external-provisioner does (same name, after a
    retryable code or a 10 s deadline): every call ends with a volume or a retryable code, and
    in the end there is exactly one volume per PVC, each with its own gid."""
    names = [f"pvc-storm-{i:02d}" for i in range(30)]
    with csi_driver(server=slow_heketi.url, key=ADMIN_KEY) as d:

        def provision(name: str) -> tuple[Any, list[grpc.StatusCode]]:
            codes: list[grpc.StatusCode] = []
            for _ in range(200):
                try:
                    return d.controller.CreateVolume(create_request(name), timeout=10).volume, codes
                except grpc.RpcError as exc:
                    assert exc.code() in RETRYABLE, (name, exc.code(), exc.details())
                    codes.append(exc.code())
                    time.sleep(0.05)
            raise AssertionError(f"{name}: never made")

        with ThreadPoolExecutor(30) as pool:
            results = list(pool.map(provision, names))
    volumes = [r[0] for r in results]
    assert len({v.volume_id for v in volumes}) == 30
    on_server = [v for v in slow_heketi.volumes() if str(v["name"]).startswith("vol_pvc-storm-")]
    assert sorted(v["name"] for v in on_server) == [volume_name(n) for n in names]
    assert len({v["gid"] for v in on_server}) == 30
    assert any(r[1] for r in results), "max_inflight 8 should have turned some calls away"


def test_secret_from_a_kubernetes_secret_reader(heketi: Heketi) -> None:
    """In-tree classes name a secret (secretNamespace/secretName) and pass no CSI secret: the
    driver reads it (type kubernetes.io/glusterfs, data key 'key')."""
    asked: list[tuple[str, str]] = []

    def read(namespace: str, name: str) -> str:
        asked.append((namespace, name))
        return ADMIN_KEY

    with csi_driver(server=heketi.url, key="", secret_reader=read) as d:
        params = {"secretNamespace": "default", "secretName": "heketi-secret"}
        volume = d.controller.CreateVolume(create_request("pvc-insecret", 1, params)).volume
    assert volume.volume_context["volume"] == "vol_pvc-insecret"
    assert asked == [("default", "heketi-secret")]
    assert base64  # (the reader's decoding is unit-tested)


def test_the_name_lookup_confirms_what_it_remembers(driver: Driver, heketi: Heketi) -> None:
    """Within the snapshot's lifetime, a volume deleted or grown behind the driver's back is
    seen as it is on the server."""
    first = driver.controller.CreateVolume(create_request("pvc-behind", GIB)).volume
    with heketi.client() as c:
        c.volume_expand(first.volume_id, 2)
    grown = driver.controller.CreateVolume(create_request("pvc-behind", GIB)).volume
    assert grown.volume_id == first.volume_id and grown.capacity_bytes == 3 * GIB
    with heketi.client() as c:
        c.volume_delete(first.volume_id)
    again = driver.controller.CreateVolume(create_request("pvc-behind", GIB)).volume
    assert again.volume_id != first.volume_id
    assert names_on(heketi).count("vol_pvc-behind") == 1


def test_a_name_taken_meanwhile_is_aborted_then_found(heketi: Heketi) -> None:
    """Another controller (a leader change) made the name after this one read the server: the
    server refuses the second create, the driver answers ABORTED and the retry finds it."""
    with csi_driver(server=heketi.url, key=ADMIN_KEY) as d:
        d.controller.CreateVolume(create_request("pvc-warm"))  # the snapshot is read now
        with heketi.client() as c:
            made = c.volume_create(1, name="vol_pvc-taken", replica=3)
        code, message = code_of(d.controller.CreateVolume, create_request("pvc-taken"))
        assert code == C.ABORTED and "already in use" in message
        found = d.controller.CreateVolume(create_request("pvc-taken")).volume
    assert found.volume_id == made["id"]
    assert names_on(heketi).count("vol_pvc-taken") == 1
