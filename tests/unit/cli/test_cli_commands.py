"""heketi-cli commands against the in-memory fake Heketi: outputs, --json, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brickyard.client.testing import FakeHeketi

# the ``run`` fixture (conftest.py): run(*argv, env=None) -> Result(code, out, err)
Run = Callable[..., Any]


def _cluster(run: Run) -> str:
    result = run("cluster", "create")
    assert result.code == 0
    return result.out.removeprefix("Cluster id: ").strip()


def _node(run: Run, cluster: str, host: str, zone: int = 1) -> str:
    result = run(
        "node",
        "add",
        f"--zone={zone}",
        "--cluster",
        cluster,
        f"--management-host-name={host}",
        f"--storage-host-name=10.0.0.{zone}",
        "--json",
    )
    assert result.code == 0, result.err
    node_id: str = json.loads(result.out)["id"]
    return node_id


def test_version() -> None:
    from brickyard.cli.heketi_cli import main

    for flag in ("--version", "-v"):
        assert main([flag], env={}) == 0


def test_version_output(run: Run) -> None:
    assert run("--version").out == "heketi-cli v10.4.1\n"


@pytest.mark.parametrize("group", ["cluster", "node", "device", "volume", "topology", "server"])
def test_group_without_subcommand_prints_help(run: Run, group: str) -> None:
    result = run(group)
    assert result.code == 0
    assert "Usage:" in result.out
    assert result.err == ""


def test_cluster_create_text_and_json(run: Run, fake: FakeHeketi) -> None:
    result = run("cluster", "create")
    assert result.code == 0
    (cid,) = fake.clusters
    assert result.out == f"Cluster id: {cid}\n"
    assert json.loads(fake.requests[-1].content) == {"block": True, "file": True}

    result = run("cluster", "create", "--block=false", "--json")
    assert not result.out.endswith("\n")
    data = json.loads(result.out)
    assert data["block"] is False and data["file"] is True
    assert json.loads(fake.requests[-1].content) == {"block": False, "file": True}


def test_cluster_list_info_setflags_delete(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    assert run("cluster", "list").out == f"Clusters:\nId:{cid} [file][block]\n"
    assert run("cluster", "setflags", cid, "--block=false").out == ""
    assert fake.clusters[cid] == {"block": False, "file": True}
    assert run("cluster", "setflags", "--file", "false", cid).code == 0
    assert run("cluster", "list").out == f"Clusters:\nId:{cid} []\n"
    assert run("cluster", "list", "--json").out == json.dumps({"clusters": [cid]}).replace(" ", "")
    assert run("cluster", "info", cid).out == (
        f"Cluster id: {cid}\nNodes:\n\nVolumes:\n\nBlock: false\n\nFile: false\n"
    )
    assert run("cluster", "delete", cid).out == f"Cluster {cid} deleted\n"
    assert fake.clusters == {}


def test_cluster_setflags_needs_a_flag(run: Run) -> None:
    result = run("cluster", "setflags", "a" * 32)
    assert (result.code, result.err) == (
        255,
        "Error: At least one of --file or --block must be specified.\n",
    )


def test_server_errors_are_printed_and_exit_255(run: Run) -> None:
    result = run("volume", "info", "deadbeef")
    assert (result.code, result.out, result.err) == (255, "", "Error: Id not found\n")


def test_conflict_error_message(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    _node(run, cid, "node1")
    result = run("cluster", "delete", cid)
    assert result.err == (
        f"Error: Unable to delete cluster [{cid}] because it contains volumes and/or nodes\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["volume", "create"], "Missing volume size"),
        (["volume", "info"], "Volume id missing"),
        (["volume", "delete"], "Volume id missing"),
        (["volume", "clone"], "Volume id missing"),
        (["volume", "expand", "x"], "Missing volume amount to expand"),
        (["volume", "expand", "--expand-size=1"], "Volume id missing"),
        (["node", "add"], "Missing zone"),
        (["node", "add", "--zone=1"], "Missing management hostname"),
        (["node", "add", "--zone=1", "--management-host-name=a"], "Missing storage hostname"),
        (
            ["node", "add", "--zone=1", "--management-host-name=a", "--storage-host-name=b"],
            "Missing cluster id",
        ),
        (["node", "info"], "Node id missing"),
        (["node", "enable"], "Node id missing"),
        (["cluster", "info"], "Cluster id missing"),
        (["cluster", "delete"], "Cluster id missing"),
        (["device", "add"], "Missing device name"),
        (["device", "add", "--name=/dev/sdb"], "Missing node id"),
        (["device", "info"], "Device id missing"),
        (["device", "remove"], "Device id missing"),
        (["topology", "load"], "Missing configuration file"),
        (["topology", "load", "--json=/nonexistent/topology.json"], "Unable to open config file"),
        (["blockvolume", "create"], "Missing volume size"),
        (["node", "settags"], "id required"),
        (["node", "settags", "x"], "at least one tag:value pair expected"),
        (
            ["node", "settags", "x", "novalue"],
            "expected colon (:) between tag name and value, got: novalue",
        ),
        (["device", "rmtags", "x"], "at least one tag expected"),
        (["device", "rmtags", "x", "a", "--all"], "--all may not be combined with named tags"),
        (["loglevel", "set"], "missing log-level argument"),
        (["server", "mode", "set"], "missing mode argument"),
        (["brick", "evict", "a", "b"], "Too many arguments provided"),
        (
            ["volume", "create", "--size=abc"],
            'invalid argument "abc" for "--size" flag: '
            'strconv.ParseInt: parsing "abc": invalid syntax',
        ),
        (["volume", "list", "--bogus"], "unknown flag: --bogus"),
    ],
)
def test_argument_errors(run: Run, fake: FakeHeketi, argv: list[str], message: str) -> None:
    result = run(*argv)
    assert (result.code, result.out, result.err) == (255, "", f"Error: {message}\n")
    assert fake.requests == []


def test_unparsable_topology_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"clusters": [{"nodes": [{"node": {"zone": "one"}}]}]}')
    result = run("topology", "load", f"--json={path}")
    assert result.err == "Error: Unable to parse config file\n"


def test_global_flags_after_the_subcommand_and_env(run: Run, fake: FakeHeketi) -> None:
    run("cluster", "create", "-s", "http://heketi.example:9000", "--user", "admin", "--secret", "k")
    request = fake.requests[-1]
    assert str(request.url) == "http://heketi.example:9000/clusters"
    assert request.headers["authorization"].startswith("bearer ")

    env = {
        "HEKETI_CLI_SERVER": "http://from-env:1",
        "HEKETI_CLI_USER": "admin",
        "HEKETI_CLI_KEY": "k",
    }
    run("cluster", "list", env=env)
    assert fake.requests[-1].url.host == "from-env"
    run("--server=http://flag:2", "cluster", "list", env=env)
    assert fake.requests[-1].url.host == "flag"
    run("cluster", "list")
    assert str(fake.requests[-2].url) == "http://localhost:8080/clusters"
    assert "authorization" not in fake.requests[-2].headers


def test_jwt_is_checked_by_the_fake(run: Run, fake: FakeHeketi) -> None:
    fake.keys = {"admin": "secret"}
    ok = run("cluster", "create", "--user=admin", "--secret=secret", "--json")
    assert ok.code == 0
    bad = run("cluster", "list", "--user=admin", "--secret=wrong")
    assert bad.code == 255 and bad.err.startswith("Error: Invalid JWT token: Signature")
    missing = run("cluster", "list")
    assert missing.err == "Error: Required authorization token not found\n"


def test_json_flag_anywhere_and_ignored_by_text_only_commands(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    node_id = _node(run, cid, "node1")
    assert run("--json", "node", "list").out == f"Id:{node_id}\tCluster:{cid}\n"
    assert json.loads(run("node", "info", node_id, "--json").out)["id"] == node_id
    assert json.loads(run("--json=true", "cluster", "info", cid).out)["nodes"] == [node_id]
    assert run("--json=false", "cluster", "info", cid).out.startswith("Cluster id:")


def test_node_commands(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    added = run(
        "node",
        "add",
        "--zone=2",
        f"--cluster={cid}",
        "--management-host-name=node1",
        "--storage-host-name=10.0.0.1",
    )
    (nid,) = fake.nodes
    assert added.out == (
        f"Node information:\nNode Id: {nid}\nState: online\nCluster Id: {cid}\nZone: 2\n"
        "Management Hostname: node1\nStorage Hostname: 10.0.0.1\n"
    )
    body = json.loads(next(r.content for r in fake.requests if r.url.path == "/nodes"))
    assert body == {
        "zone": 2,
        "hostnames": {"manage": ["node1"], "storage": ["10.0.0.1"]},
        "cluster": cid,
    }
    assert run("node", "disable", nid).out == f"Node {nid} is now offline\n"
    assert run("node", "enable", nid).out == f"Node {nid} is now online\n"
    assert run("node", "remove", nid).out == f"Node {nid} is now removed\n"
    assert json.loads(fake.requests[-3].content) == {"state": "failed", "healcheck": ""}
    assert run("node", "info", nid).out.startswith(f"Node Id: {nid}\nState: removed\n")
    assert run("node", "settags", nid, "a:1", "b:x:y").code == 0
    assert fake.nodes[nid]["tags"] == {"a": "1", "b": "x:y"}
    assert run("node", "settags", "-e", nid, "c:3").code == 0
    assert fake.nodes[nid]["tags"] == {"c": "3"}
    assert run("node", "deltags", nid, "c").code == 0
    assert fake.nodes[nid]["tags"] == {}
    run("node", "settags", nid, "a:1")
    assert run("node", "removetags", nid, "--all").code == 0
    assert fake.nodes[nid]["tags"] == {}
    assert run("node", "delete", nid).out == f"Node {nid} deleted\n"


def test_device_commands(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    nid = _node(run, cid, "node1")
    assert (
        run("device", "add", "--name=/dev/sdb", f"--node={nid}").out
        == "Device added successfully\n"
    )
    assert json.loads(fake.requests[-3].content) == {"name": "/dev/sdb", "node": nid}
    run("device", "add", "--name=/dev/sdc", "--node", nid, "--destroy-existing-data")
    assert json.loads(fake.requests[-3].content) == {
        "name": "/dev/sdc",
        "node": nid,
        "destroydata": True,
    }
    did = next(d for d, v in fake.devices.items() if v["name"] == "/dev/sdb")
    info = run("device", "info", did).out
    assert info.startswith(f"Device Id: {did}\nState: online\nSize (GiB): 500\nUsed (GiB): 0\n")
    assert info.endswith("Create Path: /dev/sdb\nPhysical Volume UUID: \nKnown Paths: \nBricks:\n")
    assert run("device", "disable", did).out == f"Device {did} is now offline\n"
    removed = run("device", "remove", did, "--expert-option-disable-heal-check")
    assert removed.out.endswith(f"Device {did} is now removed\n")
    assert removed.out.startswith("Skipping the heal check may be dangerous")
    assert json.loads(fake.requests[-3].content) == {"state": "failed", "healcheck": "disable"}
    assert "State: removed" in run("device", "info", did).out
    assert run("device", "resync", did).out == f"Device {did} updated\n"
    assert run("device", "delete", did).out == f"Device {did} deleted\n"
    assert json.loads(fake.requests[-3].content) == {"forceforget": False}
    node_info = run("node", "info", nid).out
    assert node_info.endswith(
        "Devices:\n" + f"Id:{next(iter(fake.devices)):<35}Name:/dev/sdc            "
        "State:online    Size (GiB):500     Used (GiB):0       "
        "Free (GiB):500     Bricks:0       \n"
    )


def test_device_resync_cluster(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run)
    nid = _node(run, cid, "node1")
    run("device", "add", "--name=/dev/sdb", f"--node={nid}")
    (did,) = fake.devices
    result = run("device", "resync", cid, "--cluster")
    assert result.out == (
        "Cluster-wide resync operation requested. Using object_id as cluster_id.\n"
        f"Now resyncing device {did}..\n"
        f"Device {did} (node {nid}) in cluster {cid} updated\n"
    )


def _three_nodes(run: Run) -> str:
    cid = _cluster(run)
    for i in (1, 2, 3):
        nid = _node(run, cid, f"node{i}", zone=i)
        run("device", "add", "--name=/dev/sdb", f"--node={nid}")
    return cid


def test_volume_create_sends_the_contract_defaults(run: Run, fake: FakeHeketi) -> None:
    cid = _three_nodes(run)
    result = run("volume", "create", "--size=1")
    assert result.code == 0, result.err
    post = next(r for r in fake.requests if r.method == "POST" and r.url.path == "/volumes")
    assert post.content == (
        b'{"size":1,"name":"","durability":{"type":"replicate","replicate":{"replica":3},'
        b'"disperse":{"data":4,"redundancy":2}},"snapshot":{"enable":false,"factor":0}}'
    )
    (vid,) = fake.volumes
    assert result.out.startswith(f"Name: vol_{vid}\nSize: 1\nVolume Id: {vid}\nCluster Id: {cid}\n")
    assert result.out.endswith(
        "Durability Type: replicate\nDistribute Count: 1\nReplica Count: 3\n"
    )


def test_volume_create_options(run: Run, fake: FakeHeketi) -> None:
    cid = _three_nodes(run)
    result = run(
        "volume",
        "create",
        "--size",
        "2",
        "--name=v1",
        "--durability=disperse",
        "--snapshot-factor=1.5",
        "--gid=2000",
        f"--clusters={cid}",
        "--gluster-volume-options=a 1,b 2",
        "--block",
        "--json",
    )
    body = json.loads(next(r.content for r in fake.requests if r.url.path == "/volumes"))
    assert body == {
        "size": 2,
        "clusters": [cid],
        "name": "v1",
        "durability": {
            "type": "disperse",
            "replicate": {"replica": 3},
            "disperse": {"data": 4, "redundancy": 2},
        },
        "gid": 2000,
        "glustervolumeoptions": ["a 1", "b 2"],
        "block": True,
        "snapshot": {"enable": True, "factor": 1.5},
    }
    assert json.loads(result.out)["name"] == "v1"


def test_volume_persistent_volume_output(run: Run, fake: FakeHeketi, tmp_path: Path) -> None:
    _three_nodes(run)
    missing = run("volume", "create", "--size=1", "--persistent-volume")
    assert missing.err == (
        "--persistent-volume-endpoint must be provided when using --persistent-volume\n"
        "Error: Missing endpoint\n"
    )
    result = run(
        "volume", "create", "--size=1", "--persistent-volume", "--persistent-volume-endpoint=ep"
    )
    (vid,) = fake.volumes
    pv = json.loads(result.out)
    assert result.out.endswith("}\n") and '\n  "kind": "PersistentVolume",' in result.out
    assert pv["metadata"]["name"] == f"glusterfs-{vid[:8]}"
    assert pv["spec"]["glusterfs"] == {"endpoints": "ep", "path": f"vol_{vid}"}
    target = tmp_path / "pv.json"
    assert run("volume", "create", "--size=1", f"--persistent-volume-file={target}").out == ""
    assert json.loads(target.read_text())["kind"] == "PersistentVolume"


def test_volume_list_expand_delete(run: Run, fake: FakeHeketi) -> None:
    cid = _three_nodes(run)
    run("volume", "create", "--size=1")
    (vid,) = fake.volumes
    assert run("volume", "list").out == f"Id:{vid}    Cluster:{cid}    Name:vol_{vid}\n"
    assert json.loads(run("volume", "list", "--json").out) == {"volumes": [vid]}
    assert "Size: 3\n" in run("volume", "expand", vid, "--expand-size=2").out
    assert "Size: 4\n" in run("volume", "expand", f"--volume={vid}", "--expand-size", "1").out
    assert json.loads(fake.requests[-4].content) == {"expand_size": 1}
    assert run("volume", "delete", vid).out == f"Volume {vid} deleted\n"
    assert run("volume", "list").out == ""


def test_async_failure_is_reported(run: Run, fake: FakeHeketi) -> None:
    _three_nodes(run)
    fake.fail("POST", "/volumes", -500, "Failed to allocate new volume: No space")
    result = run("volume", "create", "--size=1")
    assert (result.code, result.err) == (255, "Error: Failed to allocate new volume: No space\n")


def test_server_group_commands(run: Run, fake: FakeHeketi) -> None:
    assert run("server", "mode", "get").out == "normal\n"
    assert run("server", "mode", "set", "read-only").out == ""
    assert fake.admin_state == "read-only"
    assert run("loglevel", "get").out == "info\n"
    assert run("loglevel", "set", "debug").out == "Server log level updated\n"
    assert fake.log_level == "debug"
    assert run("server", "operations", "info").out.startswith("Operation Counts:\n  Total: 0\n")
    assert run("db", "dump").out == '{"clusterentries":{}}\n'


def test_setup_openshift_storage_is_not_supported(run: Run) -> None:
    for name in ("setup-openshift-heketi-storage", "setup-heketi-db-storage"):
        result = run(name, "--listfile=x.json")
        assert result.code == 255
        assert result.err.startswith("Error: setup-openshift-heketi-storage is not supported")


def test_topology_info_composed_or_from_the_extension(run: Run, fake: FakeHeketi) -> None:
    cid = _three_nodes(run)
    run("volume", "create", "--size=1")
    composed = run("topology", "info")
    calls = len(fake.requests)
    fake.topology_endpoint = True
    direct = run("topology", "info")
    assert direct.out == composed.out
    assert len(fake.requests) == calls + 1
    assert composed.out.startswith(f"\nCluster Id: {cid}\n\n    File:  true\n    Block: true\n")
    as_json = json.loads(run("topology", "info", "--json").out)
    assert list(as_json["clusters"][0]) == ["volumes", "nodes", "id", "block", "file"]


def test_topology_info_template(run: Run, fake: FakeHeketi) -> None:
    _three_nodes(run)
    template = (
        "{{range .ClusterList}}{{range .Nodes}}"
        "{{index .Hostnames.Manage 0}} {{len .DevicesInfo}}\n"
        "{{end}}{{end}}"
    )
    result = run("topology", "info", "-T", template)
    assert sorted(result.out.splitlines(keepends=True)) == ["node1 1\n", "node2 1\n", "node3 1\n"]
    bad = run("topology", "info", "--template={{nosuch}}")
    assert bad.code == 255 and 'function "nosuch" not defined' in bad.err


def test_brickyard_program_has_every_heketi_cli_command() -> None:
    from brickyard.cli import heketi_cli, main

    main.main(["--version"], env={})
    assert set(heketi_cli.cli.commands) <= set(main.cli.commands)
    fake = FakeHeketi()
    assert main.main(["cluster", "create", "--json"], env={}, transport=fake.transport()) == 0
    assert len(fake.clusters) == 1


def test_brickyard_serve_is_loaded_lazily(capsys: pytest.CaptureFixture[str]) -> None:
    from brickyard.cli import main

    assert main.main(["serve", "--help"], env={}) == 0
    assert capsys.readouterr().out.startswith("Usage: brickyard serve")
    assert "serve" in main.cli.commands


def test_help_command(run: Run) -> None:
    result = run("help", "volume", "create")
    assert result.code == 0
    assert result.out.startswith("Usage: heketi-cli volume create [OPTIONS]")
    assert "--snapshot-factor" in result.out
