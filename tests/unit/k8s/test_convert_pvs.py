"""brickyard k8s convert-pvs: in-tree GlusterFS PVs -> CSI PVs of glusterfs.brickyard.io, on
fixture JSON written from the Kubernetes API reference (tests/fixtures/k8s/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from brickyard.cli.main import main
from brickyard.client.testing import FakeHeketi
from brickyard.csi.ids import VolumeId
from brickyard.k8s.convert import (
    DRIVER,
    Converted,
    ConvertError,
    Result,
    convert,
    parse_endpoints,
    parse_pvs,
    render_steps,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "k8s"
PVS_TEXT = (FIXTURES / "pvs.json").read_text()
ENDPOINTS_TEXT = (FIXTURES / "endpoints.json").read_text()
U1 = "5f3c1e2a-8b7d-4c1e-9a2b-0d6f4e3c2b1a"
PV1 = f"pvc-{U1}"
PV2 = "pvc-0b9e6a52-3c1d-4f7a-8e2b-6d5c4b3a2f10"
PV3 = "pvc-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
PV4 = "pvc-11111111-2222-4333-8444-555555555555"
PV5 = "pvc-66666666-7777-4888-9999-aaaaaaaaaaaa"
ID1 = "7b2725456116ee53cdef1fb60a31512e"
HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def run_convert(**kwargs: Any) -> Result:
    return convert(parse_pvs(PVS_TEXT), endpoints=parse_endpoints(ENDPOINTS_TEXT), **kwargs)


def by_name(result: Result) -> dict[str, Converted]:
    return {c.name: c for c in result.converted}


def validate(obj: dict[str, Any]) -> None:
    for version in ("1.28", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(obj, version, strict=True)


# -- with the Endpoints file, no server ----------------------------------------------------


def test_what_is_converted_left_alone_and_refused() -> None:
    result = run_convert()
    assert sorted(by_name(result)) == sorted([PV1, PV2, PV3, "gluster-static", PV5])
    assert [(f.name, f.reason) for f in result.failed] == [
        (
            PV4,
            f"gluster volume 'myapp_app_cache_{PV4.removeprefix('pvc-')}': no"
            " gluster.kubernetes.io/heketi-volume-id annotation and not named vol_<id>;"
            " give --server so it is looked up by name on the server",
        )
    ]
    assert result.skipped == [
        ("nfs-home", "not a GlusterFS volume"),
        ("pvc-22222222-3333-4444-8555-666666666666", "not a GlusterFS volume"),
    ]


def test_a_pv_with_the_annotation_keeps_its_volume_claim_and_gid() -> None:
    c = by_name(run_convert())[PV1]
    assert (c.volume_id, c.id_from, c.phase, c.old_policy) == (ID1, "annotation", "Bound", "Delete")
    pv = c.pv
    assert pv["metadata"]["name"] == PV1
    assert pv["spec"]["csi"] == {
        "driver": DRIVER,
        "volumeHandle": ID1,
        "volumeAttributes": {
            "server": "10.0.0.1",
            "volume": f"vol_{ID1}",
            "backup-volfile-servers": "10.0.0.2,10.0.0.3",
            "heketi-volume-id": ID1,
            "gid": "2001",
        },
    }
    annotations = pv["metadata"]["annotations"]
    assert annotations["pv.beta.kubernetes.io/gid"] == "2001"
    assert annotations["gluster.kubernetes.io/heketi-volume-id"] == ID1
    assert annotations["pv.kubernetes.io/provisioned-by"] == DRIVER
    assert "pv.kubernetes.io/bound-by-controller" not in annotations
    assert "glusterfs" not in pv["spec"]
    assert pv["spec"]["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "app",
        "name": "data",
    }  # no uid, no resourceVersion: reserved for the claim recreated under that name
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["capacity"] == {"storage": "5Gi"}
    assert pv["spec"]["storageClassName"] == "glusterfs"
    assert "status" not in pv and "uid" not in pv["metadata"]
    assert c.pvc == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "app"},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "glusterfs",
            "resources": {"requests": {"storage": "5Gi"}},
            "volumeName": PV1,
            "volumeMode": "Filesystem",
        },
    }


def test_without_the_annotation_the_id_comes_from_the_vol_prefix() -> None:
    c = by_name(run_convert())[PV2]
    assert (c.volume_id, c.id_from) == ("c0ffee00c0ffee00c0ffee00c0ffee00", "name")
    assert c.pv["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert c.pvc is not None and c.pvc["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_an_old_style_pv_finds_its_endpoints_in_the_claims_namespace() -> None:
    c = by_name(run_convert())[PV3]
    assert c.hosts_from == "endpoints legacy/glusterfs-dynamic-uploads"
    attrs = c.pv["spec"]["csi"]["volumeAttributes"]
    assert (attrs["server"], attrs["backup-volfile-servers"]) == ("10.0.1.1", "10.0.1.2")
    assert c.pv["spec"]["mountOptions"] == ["log-level=WARNING"]
    assert c.old_policy == "Retain"


def test_unbound_pvs_get_no_claim() -> None:
    converted = by_name(run_convert())
    static = converted["gluster-static"]
    assert static.pvc is None and "claimRef" not in static.pv["spec"]
    assert static.pv["metadata"]["labels"] == {"tier": "shared"}
    # made by hand: the CSI provisioner must never delete its volume
    assert "pv.kubernetes.io/provisioned-by" not in static.pv["metadata"]["annotations"]
    assert "storageClassName" not in static.pv["spec"]
    assert "gid" not in static.pv["spec"]["csi"]["volumeAttributes"]
    released = converted[PV5]
    assert released.phase == "Released"
    assert released.pvc is None and "claimRef" not in released.pv["spec"]
    assert any("old-reports is gone" in n for n in released.notes)


def test_every_produced_manifest_is_valid_for_the_kubernetes_api() -> None:
    result = run_convert()
    assert result.converted
    for c in result.converted:
        validate(c.pv)
        if c.pvc is not None:
            validate(c.pvc)


def test_the_validation_of_produced_manifests_can_fail() -> None:
    pv = copy.deepcopy(by_name(run_convert())[PV1].pv)
    pv["spec"]["csi"]["volumeAtributes"] = pv["spec"]["csi"].pop("volumeAttributes")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(pv)


def test_the_pvc_binds_to_the_pv_by_the_rules_of_the_pv_controller() -> None:
    """Same class, access modes included, request within capacity, same volume mode, and the
    PV reserved for exactly this claim."""
    for c in run_convert().converted:
        if c.pvc is None:
            continue
        pv, pvc = c.pv["spec"], c.pvc["spec"]
        assert pvc["volumeName"] == c.name
        assert pvc["storageClassName"] == pv.get("storageClassName", "")
        assert set(pvc["accessModes"]) <= set(pv["accessModes"])
        assert pvc["resources"]["requests"]["storage"] == pv["capacity"]["storage"]
        assert pvc["volumeMode"] == pv["volumeMode"]
        ref = pv["claimRef"]
        assert (ref["namespace"], ref["name"]) == (
            c.pvc["metadata"]["namespace"],
            c.pvc["metadata"]["name"],
        )


def test_without_hosts_a_pv_is_refused_not_guessed() -> None:
    result = convert(parse_pvs(PVS_TEXT))
    assert not result.converted
    reasons = {f.name: f.reason for f in result.failed}
    assert reasons[PV1] == "no storage hosts: give --endpoints FILE or --server"


def test_a_missing_or_empty_endpoints_object_is_named() -> None:
    endpoints = json.loads(ENDPOINTS_TEXT)
    endpoints["items"] = [
        e for e in endpoints["items"] if e["metadata"]["name"] != "glusterfs-dynamic-uploads"
    ]
    endpoints["items"][0]["subsets"] = []
    result = convert(parse_pvs(PVS_TEXT), endpoints=parse_endpoints(json.dumps(endpoints)))
    reasons = {f.name: f.reason for f in result.failed}
    assert reasons[PV3] == (
        "Endpoints legacy/glusterfs-dynamic-uploads is not in the --endpoints file"
    )
    assert reasons[PV1] == f"Endpoints app/glusterfs-dynamic-{U1} has no addresses"


def test_a_malformed_annotation_is_refused() -> None:
    pvs = parse_pvs(PVS_TEXT)
    pvs[0]["metadata"]["annotations"]["gluster.kubernetes.io/heketi-volume-id"] = "7B27"
    pvs[1]["metadata"]["annotations"]["pv.beta.kubernetes.io/gid"] = "20x"
    result = convert(pvs, endpoints=parse_endpoints(ENDPOINTS_TEXT))
    reasons = {f.name: f.reason for f in result.failed}
    assert "'7B27' is not a Heketi volume id" in reasons[PV1]
    assert reasons[PV2] == "annotation pv.beta.kubernetes.io/gid='20x' is not a number"


def test_the_handle_may_name_the_server() -> None:
    c = by_name(run_convert(handle_server="http://heketi.example.com:8080/"))[PV1]
    handle = c.pv["spec"]["csi"]["volumeHandle"]
    # the format is csi-core's (brickyard.csi.ids, docs/csi.md): read it back with its parser
    assert VolumeId.parse(handle) == VolumeId(ID1, "http://heketi.example.com:8080")
    assert handle != ID1
    with pytest.raises(ConvertError, match="too long"):
        run_convert(handle_server="http://" + "x" * 120)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "input: not JSON (Expecting value at line 1 column 1)"),
        ("kind: List\n", "input: not JSON"),
        ("[]", "input: expected a JSON object (a List), got list"),
        ('{"kind": "PodList", "items": []}', "expected a List of PersistentVolume objects"),
        ('{"kind": "List", "items": {}}', "input: 'items' is not a list"),
        ('{"kind": "List", "items": [3]}', "input: item 0 is not a Kubernetes object"),
        (
            '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "p"}}]}',
            "input: item 0 (p) is a Pod, not a PersistentVolume",
        ),
        ('{"kind": "List", "items": [{"metadata": {}}]}', "input: item 0 has no metadata.name"),
    ],
)
def test_bad_input_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConvertError) as caught:
        parse_pvs(text)
    assert message in str(caught.value)


def test_one_pv_and_an_empty_list_are_accepted() -> None:
    single = json.loads(PVS_TEXT)["items"][0]
    assert [p["metadata"]["name"] for p in parse_pvs(json.dumps(single))] == [PV1]
    assert parse_pvs('{"kind": "PersistentVolumeList", "items": null}') == []


# -- the steps -------------------------------------------------------------------------------


def test_the_steps_set_retain_before_anything_is_deleted() -> None:
    text = render_steps(run_convert(), "out")
    lines = [line for line in text.splitlines() if line.startswith("kubectl")]
    first_delete = next(i for i, line in enumerate(lines) if " delete " in line)
    retains = [i for i, line in enumerate(lines) if "Retain" in line and "patch" in line]
    assert len(retains) == 5 and max(retains) < first_delete
    # for a claim: pvc deleted, then the old PV, then the new PV, then the new claim
    order = [
        lines.index("kubectl delete pvc -n app data"),
        lines.index(f"kubectl delete pv {PV1}"),
        lines.index(f"kubectl create -f out/{PV1}.pv.json"),
        lines.index(f"kubectl create -f out/{PV1}.pvc.json"),
    ]
    assert order == sorted(order)
    # the old policy comes back only after the move, and only where it was not Retain
    restore = [line for line in lines if '"Delete"' in line]
    assert restore == [
        f"""kubectl patch pv {name} -p '{{"spec":{{"persistentVolumeReclaimPolicy":"Delete"}}}}'"""
        for name in (PV1, PV2)
    ]
    assert lines.index(restore[0]) > lines.index(f"kubectl create -f out/{PV2}.pvc.json")
    assert f"# NOT CONVERTED {PV4}:" in text
    assert "kubectl delete storageclass glusterfs" in lines
    assert "kubectl delete service,endpoints -n legacy glusterfs-dynamic-uploads" in lines


# -- the command, with a server ------------------------------------------------------------


@pytest.fixture
def fake() -> FakeHeketi:
    fake = FakeHeketi()
    fake.volumes[ID1] = {
        "id": ID1,
        "name": f"vol_{ID1}",
        "gid": 2001,
        "mount": {
            "glusterfs": {
                "hosts": ["192.168.5.1", "192.168.5.2", "192.168.5.3"],
                "device": f"192.168.5.1:vol_{ID1}",
                "options": {"backup-volfile-servers": "192.168.5.2,192.168.5.3"},
            }
        },
    }
    cache_id = "ab" * 16
    fake.volumes[cache_id] = {
        "id": cache_id,
        "name": f"myapp_app_cache_{PV4.removeprefix('pvc-')}",
        "gid": 2004,
        "mount": {"glusterfs": {"hosts": ["192.168.5.2"], "device": "192.168.5.2:x"}},
    }
    return fake


def cli(fake: FakeHeketi, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["k8s", "convert-pvs", *argv], env={}, transport=fake.transport())
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_with_a_server_looks_volumes_up(
    fake: FakeHeketi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pvs = json.loads(PVS_TEXT)
    pvs["items"] = pvs["items"][:4] + pvs["items"][6:]  # PV1-PV4 and the non-gluster ones
    source = tmp_path / "pvs.json"
    source.write_text(json.dumps(pvs))
    out = tmp_path / "out"
    code, stdout, stderr = cli(
        fake, capsys, str(source), "-o", str(out), "--server", "http://heketi:8080"
    )
    assert code == 1  # PV2 and PV3 are not on this server
    assert f"# NOT CONVERTED {PV2}: no volume named 'vol_c0ffee00c0ffee00c0ffee00c0ffee00'" in (
        stdout
    )
    assert "1 GlusterFS PV(s)" not in stderr and "2 GlusterFS PV(s) not converted" in stderr
    pv1 = json.loads((out / f"{PV1}.pv.json").read_text())
    assert pv1["spec"]["csi"]["volumeAttributes"]["server"] == "192.168.5.1"  # the server's hosts
    assert pv1["spec"]["csi"]["volumeAttributes"]["backup-volfile-servers"] == (
        "192.168.5.2,192.168.5.3"
    )
    pv4 = json.loads((out / f"{PV4}.pv.json").read_text())
    assert pv4["spec"]["csi"]["volumeHandle"] == "ab" * 16  # found by its name
    assert pv4["spec"]["csi"]["volumeAttributes"]["gid"] == "2004"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{PV1}.pv.json", f"{PV1}.pvc.json", f"{PV4}.pv.json", f"{PV4}.pvc.json", "steps.txt"]
    )
    assert (out / "steps.txt").read_text() == stdout
    for path in out.glob("*.json"):
        validate(json.loads(path.read_text()))


def test_the_command_refuses_an_annotation_the_server_contradicts(
    fake: FakeHeketi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.volumes[ID1]["name"] = "vol_other"
    code, stdout, _ = cli(
        fake, capsys, str(FIXTURES / "pvs.json"), "-o", str(tmp_path), "-s", "http://h:8080"
    )
    assert code == 1
    assert (
        f"# NOT CONVERTED {PV1}: the server's volume {ID1} is named 'vol_other', but the PV"
        f" mounts 'vol_{ID1}': check which one holds the data"
    ) in stdout
    assert not (tmp_path / f"{PV1}.pv.json").exists()


def test_the_command_reads_stdin_and_the_endpoints_file(
    fake: FakeHeketi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    pvs = json.loads(PVS_TEXT)
    pvs["items"] = [p for p in pvs["items"] if p["metadata"]["name"] != PV4]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(pvs)))
    code, stdout, stderr = cli(
        fake, capsys, "-", "-o", str(tmp_path), "--endpoints", str(FIXTURES / "endpoints.json")
    )
    assert (code, stderr) == (0, "")
    assert stdout.startswith("# 5 in-tree GlusterFS PV(s) converted, 0 not,")
    assert fake.calls() == []  # no server given: nothing asked


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "Error: x.json: not JSON (Expecting value at line 1 column 1)"),
        ('{"kind": "Secret"}', "Error: x.json: expected a List of PersistentVolume objects"),
    ],
)
def test_the_command_reports_bad_input(
    fake: FakeHeketi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.json").write_text(content)
    code, stdout, stderr = cli(fake, capsys, "x.json", "-o", "out")
    assert code != 0 and stdout == ""
    assert stderr.startswith(message)
    assert not Path("out").exists()


def test_the_command_names_a_missing_file(
    fake: FakeHeketi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = cli(fake, capsys, str(tmp_path / "nope.json"), "-o", str(tmp_path))
    assert code != 0
    assert stderr.startswith(f"Error: cannot read PV list {tmp_path / 'nope.json'}:")
