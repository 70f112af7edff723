"""Golden tests: heketi-cli's text outputs, byte for byte (contract §4.3, §4.4)."""

# ruff: noqa: E501

from __future__ import annotations

import copy
import json
from typing import Any

from brickyard.cli import render
from brickyard.cli.gotemplate import render_topology

GIB = 1024 * 1024
VID = "a" * 32
CID = "c" * 32

CONTRACT_TOPOLOGY_TEXT = (
    "\n"
    "Cluster Id: cccccccccccccccccccccccccccccccc\n"
    "\n"
    "    File:  true\n"
    "    Block: true\n"
    "\n"
    "    Volumes:\n"
    "\n"
    "\tName: vol_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "\tSize: 1\n"
    "\tId: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "\tCluster Id: cccccccccccccccccccccccccccccccc\n"
    "\tMount: 10.0.0.1:vol_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "\tMount Options: backup-volfile-servers=10.0.0.2\n"
    "\tDurability Type: none\n"
    "\tSnapshot: Disabled\n"
    "\n"
    "\t\tBricks:\n"
    "\t\t\tId: b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
    "\t\t\tPath: /var/lib/heketi/mounts/vg_d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1/brick_b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1/brick\n"
    "\t\t\tSize (GiB): 1\n"
    "\t\t\tNode: 11111111111111111111111111111111\n"
    "\t\t\tDevice: d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1\n"
    "\n"
    "\n"
    "\tName: vol_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n"
    "\tSize: 1\n"
    "\tId: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n"
    "\tCluster Id: cccccccccccccccccccccccccccccccc\n"
    "\tMount: 10.0.0.1:vol_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n"
    "\tMount Options: backup-volfile-servers=10.0.0.2\n"
    "\tDurability Type: disperse\n"
    "\tDisperse Data: 2\n"
    "\tDisperse Redundancy: 1\n"
    "\tSnapshot: Enabled\n"
    "\tSnapshot Factor: 1.50\n"
    "\n"
    "\t\tBricks:\n"
    "\t\t\tId: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
    "\t\t\tPath: /var/lib/heketi/mounts/vg_d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1/brick_b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2/brick\n"
    "\t\t\tSize (GiB): 1\n"
    "\t\t\tNode: 11111111111111111111111111111111\n"
    "\t\t\tDevice: d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1\n"
    "\n"
    "\n"
    "\n"
    "    Nodes:\n"
    "\n"
    "\tNode Id: 11111111111111111111111111111111\n"
    "\tState: online\n"
    "\tCluster Id: cccccccccccccccccccccccccccccccc\n"
    "\tZone: 1\n"
    "\tManagement Hostnames: node1.example.com\n"
    "\tStorage Hostnames: 10.0.0.1\n"
    "\tTags: arbiter:supported rack:r1\n"
    "\n"
    "\tDevices:\n"
    "\t\tId:d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1   State:online    Size (GiB):500     Used (GiB):2       Free (GiB):497     \n"
    "\t\t\tKnown Paths: /dev/sdb\n"
    "\n"
    "\t\t\tBricks:\n"
    "\t\t\t\tId:b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1   Size (GiB):1       Path: /var/lib/heketi/mounts/vg_d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1/brick_b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1/brick\n"
    "\t\t\t\tId:b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2   Size (GiB):1       Path: /var/lib/heketi/mounts/vg_d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1/brick_b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2/brick\n"
    "\t\tId:d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2   State:removed   Size (GiB):500     Used (GiB):0       Free (GiB):500     \n"
    "\t\t\tTags: ssd:yes\n"
    "\n"
    "\t\t\tKnown Paths: /dev/sdc /dev/disk/by-id/wwn-0x5000\n"
    "\n"
    "\t\t\tBricks:\n"
    "\n"
    "\tNode Id: 22222222222222222222222222222222\n"
    "\tState: offline\n"
    "\tCluster Id: cccccccccccccccccccccccccccccccc\n"
    "\tZone: 2\n"
    "\tManagement Hostnames: node2.example.com\n"
    "\tStorage Hostnames: 10.0.0.2\n"
    "\tDevices:\n"
    "\n"
)

# The default template reconstructed in Go text/template syntax: our template engine must
# render it exactly like the built-in renderer (and both like the contract).
DEFAULT_TOPOLOGY_TEMPLATE = """
{{- range .ClusterList}}
Cluster Id: {{.Id}}

    File:  {{.File}}
    Block: {{.Block}}

    Volumes:
{{range .Volumes}}
\tName: {{.Name}}
\tSize: {{.Size}}
\tId: {{.Id}}
\tCluster Id: {{.Cluster}}
\tMount: {{.Mount.GlusterFS.MountPoint}}
\tMount Options: {{ range $k, $v := .Mount.GlusterFS.Options }}{{$k}}={{$v}}{{end}}
\tDurability Type: {{.Durability.Type}}
{{- if eq .Durability.Type "replicate" }}
\tReplica: {{.Durability.Replicate.Replica}}
{{- else if eq .Durability.Type "disperse" }}
\tDisperse Data: {{.Durability.Disperse.Data}}
\tDisperse Redundancy: {{.Durability.Disperse.Redundancy}}
{{- end}}
{{- if .Snapshot.Enable }}
\tSnapshot: Enabled
\tSnapshot Factor: {{.Snapshot.Factor | printf "%.2f"}}
{{else}}
\tSnapshot: Disabled
{{end}}
\t\tBricks:
{{- range .Bricks}}
\t\t\tId: {{.Id}}
\t\t\tPath: {{.Path}}
\t\t\tSize (GiB): {{kibToGib .Size}}
\t\t\tNode: {{.NodeId}}
\t\t\tDevice: {{.DeviceId}}
{{end}}
{{end}}

    Nodes:
{{range .Nodes}}
\tNode Id: {{.Id}}
\tState: {{entryStateString .State}}
\tCluster Id: {{.ClusterId}}
\tZone: {{.Zone}}
\tManagement Hostnames: {{join .Hostnames.Manage ", "}}
\tStorage Hostnames: {{join .Hostnames.Storage ", "}}
{{- if len .Tags | ne 0 }}
\tTags:{{range $tk, $tv := .Tags }} {{$tk}}:{{$tv -}}{{end}}
{{end}}
\tDevices:
{{- range .DevicesInfo}}
\t\tId:{{.Id | printf "%-35v" -}}
\t\tState:{{entryStateString .State | printf "%-10v" -}}
\t\tSize (GiB):{{kibToGib .Storage.Total | printf "%-8v" -}}
\t\tUsed (GiB):{{kibToGib .Storage.Used | printf "%-8v" -}}
\t\tFree (GiB):{{kibToGib .Storage.Free | printf "%-8v"}}
{{- if len .Tags | ne 0 }}
\t\t\tTags:{{range $tk, $tv := .Tags }} {{$tk}}:{{$tv -}}{{end}}
{{end}}
\t\t\tKnown Paths: {{if .Paths}}{{join .Paths " "}}{{else}}{{.Name}}{{end}}

\t\t\tBricks:
{{- range .Bricks}}
\t\t\t\tId:{{.Id | printf "%-35v" -}}
\t\t\t\tSize (GiB):{{kibToGib .Size | printf "%-8v" -}}
\t\t\t\tPath: {{.Path}}
{{- end}}
{{- end}}
{{end}}
{{- end}}
"""


def test_topology_info_matches_the_contract_example(contract_topology: dict[str, Any]) -> None:
    assert render.topology_info(contract_topology) == CONTRACT_TOPOLOGY_TEXT


def test_go_template_engine_renders_the_default_template_identically(
    contract_topology: dict[str, Any],
) -> None:
    assert render_topology(DEFAULT_TOPOLOGY_TEMPLATE, contract_topology) == CONTRACT_TOPOLOGY_TEXT


def test_empty_topology_is_a_single_newline() -> None:
    assert render.topology_info({"clusters": []}) == "\n"
    assert render_topology(DEFAULT_TOPOLOGY_TEMPLATE, {"clusters": []}) == "\n"


def test_topology_cluster_without_volumes_or_nodes() -> None:
    topo = {"clusters": [{"volumes": [], "nodes": [], "id": CID, "block": False, "file": True}]}
    expected = (
        f"\nCluster Id: {CID}\n\n    File:  true\n    Block: false\n\n"
        "    Volumes:\n\n\n    Nodes:\n\n"
    )
    assert render.topology_info(topo) == expected
    assert render_topology(DEFAULT_TOPOLOGY_TEMPLATE, topo) == expected


def test_topology_replicate_volume_and_two_clusters(contract_topology: dict[str, Any]) -> None:
    topo = copy.deepcopy(contract_topology)
    volume = topo["clusters"][0]["volumes"][0]
    volume["durability"] = {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}}
    topo["clusters"].append({"volumes": [], "nodes": [], "id": "f" * 32})
    text = render.topology_info(topo)
    assert "\tDurability Type: replicate\n\tReplica: 3\n\tSnapshot: Disabled\n" in text
    assert text.endswith(
        f"\tDevices:\n\nCluster Id: {'f' * 32}\n\n    File:  false\n"
        "    Block: false\n\n    Volumes:\n\n\n    Nodes:\n\n"
    )
    assert render_topology(DEFAULT_TOPOLOGY_TEMPLATE, topo) == text


# --- volumes ---------------------------------------------------------------------------------


def _volume(**changes: Any) -> dict[str, Any]:
    volume: dict[str, Any] = {
        "size": 1,
        "name": f"vol_{VID}",
        "durability": {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}},
        "glustervolumeoptions": ["", ""],
        "snapshot": {"enable": False, "factor": 1},
        "id": VID,
        "cluster": CID,
        "mount": {
            "glusterfs": {
                "hosts": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                "device": f"10.0.0.1:vol_{VID}",
                "options": {"backup-volfile-servers": "10.0.0.2,10.0.0.3"},
            }
        },
        "blockinfo": {},
        "bricks": [{"id": f"{i:032x}", "size": GIB} for i in range(3)],
    }
    volume.update(changes)
    return volume


def test_volume_info_matches_the_contract_example() -> None:
    assert render.volume_info(_volume()) == (
        f"Name: vol_{VID}\n"
        "Size: 1\n"
        f"Volume Id: {VID}\n"
        f"Cluster Id: {CID}\n"
        f"Mount: 10.0.0.1:vol_{VID}\n"
        "Mount Options: backup-volfile-servers=10.0.0.2,10.0.0.3\n"
        "Block: false\n"
        "Free Size: 0\n"
        "Reserved Size: 0\n"
        "Block Hosting Restriction: (none)\n"
        "Block Volumes: []\n"
        "Durability Type: replicate\n"
        "Distribute Count: 1\n"
        "Replica Count: 3\n"
    )


def test_volume_info_disperse_with_snapshot_and_block_info() -> None:
    volume = _volume(
        durability={"type": "disperse", "replicate": {}, "disperse": {"data": 2, "redundancy": 1}},
        snapshot={"enable": True, "factor": 1.5},
        bricks=[{"id": str(i)} for i in range(6)],
        block=True,
        blockinfo={
            "freesize": 90,
            "reservedsize": 2,
            "blockvolume": ["x1", "x2"],
            "restriction": "locked",
        },
    )
    text = render.volume_info(volume)
    assert text.endswith(
        "Block: true\nFree Size: 90\nReserved Size: 2\nBlock Hosting Restriction: locked\n"
        "Block Volumes: [x1 x2]\nDurability Type: disperse\nDistribute Count: 2\n"
        "Disperse Data Count: 2\nDisperse Redundancy Count: 1\nSnapshot Factor: 1.50\n\n"
    )


def test_volume_info_none_durability_ends_after_distribute_count() -> None:
    volume = _volume(durability={"type": "none", "replicate": {}, "disperse": {}})
    assert render.volume_info(volume).endswith("Durability Type: none\nDistribute Count: 3\n")


def test_volume_mount_options_are_sorted_and_concatenated() -> None:
    mount = {"glusterfs": {"device": "h:v", "options": {"z": "1", "a": "2"}}}
    assert "Mount Options: a=2z=1\n" in render.volume_info(_volume(mount=mount))


def test_volume_list_lines() -> None:
    assert render.volume_list_line(VID, _volume()) == (
        f"Id:{VID}    Cluster:{CID}    Name:vol_{VID}\n"
    )
    assert render.volume_list_line(VID, _volume(block=True)).endswith(f"Name:vol_{VID} [block]\n")


def test_blockvolume_info_and_list() -> None:
    bv = {
        "size": 2,
        "name": "bv1",
        "hacount": 3,
        "id": "b" * 32,
        "blockvolume": {
            "hosts": ["10.0.0.1", "10.0.0.2"],
            "iqn": "iqn.x",
            "lun": 0,
            "username": "u",
            "password": "p",
        },
        "cluster": CID,
        "blockhostingvolume": VID,
        "usablesize": 2,
    }
    assert render.blockvolume_info(bv) == (
        "Name: bv1\nSize: 2\nUsableSize: 2\nVolume Id: " + "b" * 32 + f"\nCluster Id: {CID}\n"
        "Hosts: [10.0.0.1 10.0.0.2]\nIQN: iqn.x\nLUN: 0\nHacount: 3\nUsername: u\nPassword: p\n"
        f"Block Hosting Volume: {VID}\n"
    )
    assert render.blockvolume_list_line("b" * 32, bv) == (
        "Id:" + "b" * 32 + f"    Cluster:{CID}    Name:bv1\n"
    )


# --- clusters, nodes, devices ---------------------------------------------------------------


def test_cluster_info_with_empty_lists_leaves_empty_lines() -> None:
    info = {"id": CID, "nodes": [], "volumes": [], "block": True, "file": False}
    assert render.cluster_info(info) == (
        f"Cluster id: {CID}\nNodes:\n\nVolumes:\n\nBlock: true\n\nFile: false\n"
    )


def test_cluster_info_lists_ids_one_per_line() -> None:
    info = {"id": CID, "nodes": ["n1", "n2"], "volumes": ["v1"], "block": False, "file": True}
    assert render.cluster_info(info) == (
        f"Cluster id: {CID}\nNodes:\nn1\nn2\nVolumes:\nv1\nBlock: false\n\nFile: true\n"
    )


def test_cluster_list_flags() -> None:
    assert render.cluster_list_line("x", {"file": True, "block": True}) == "Id:x [file][block]\n"
    assert render.cluster_list_line("x", {"file": True}) == "Id:x [file]\n"
    assert render.cluster_list_line("x", {"block": True}) == "Id:x [block]\n"
    assert render.cluster_list_line("x", {}) == "Id:x []\n"


NODE = {
    "zone": 1,
    "hostnames": {"manage": ["node1"], "storage": ["10.0.0.1"]},
    "cluster": CID,
    "id": "1" * 32,
    "state": "failed",
    "devices": [
        {
            "name": "/dev/sdb",
            "storage": {"total": 500 * GIB, "free": 498 * GIB, "used": 2 * GIB},
            "id": "d" * 30 + "01",
            "state": "online",
            "bricks": [{"id": "b1"}],
        }
    ],
}


def test_node_info_matches_the_contract_device_line() -> None:
    assert render.node_info(NODE) == (
        "Node Id: " + "1" * 32 + "\nState: removed\n"
        f"Cluster Id: {CID}\nZone: 1\nManagement Hostname: node1\nStorage Hostname: 10.0.0.1\n"
        "Devices:\n"
        "Id:dddddddddddddddddddddddddddddd01   Name:/dev/sdb            State:online    "
        "Size (GiB):500     Used (GiB):2       Free (GiB):498     Bricks:1       \n"
    )


def test_node_summary_with_tags() -> None:
    node = dict(NODE, state="online", tags={"b": "2", "a": "1"})
    assert render.node_summary(node).endswith("Storage Hostname: 10.0.0.1\nTags:\n  a: 1\n  b: 2\n")


def test_device_info() -> None:
    device = {
        "name": "/dev/sdb",
        "tags": {"ssd": "yes"},
        "storage": {"total": 500 * GIB, "free": 499 * GIB, "used": GIB},
        "id": "d" * 32,
        "paths": ["/dev/sdb", "/dev/disk/by-id/x"],
        "pv_uuid": "uuid-1",
        "state": "offline",
        "bricks": [{"id": "b" * 32, "size": GIB, "path": "/bricks/b"}],
    }
    assert render.device_info(device) == (
        "Device Id: " + "d" * 32 + "\nState: offline\nSize (GiB): 500\nUsed (GiB): 1\n"
        "Free (GiB): 499\nCreate Path: /dev/sdb\nPhysical Volume UUID: uuid-1\n"
        "Known Paths: /dev/sdb /dev/disk/by-id/x\nTags:\n  ssd: yes\nBricks:\n"
        "Id:" + "b" * 32 + "   Size (GiB):1       Path: /bricks/b\n"
    )


# --- server ----------------------------------------------------------------------------------


def test_operations_outputs() -> None:
    counts = {"total": 5, "in_flight": 1, "stale": 2, "failed": 1, "new": 1}
    assert render.operations_info(counts) == (
        "Operation Counts:\n  Total: 5\n  In-Flight: 1\n  New: 1\n  Failed: 1\n  Stale: 2\n"
    )
    listing = {
        "pendingoperations": [
            {"id": "o1", "type_name": "create-volume", "status": "", "sub_status": "in-flight"},
            {"id": "o2", "type_name": "delete-volume", "status": "stale", "sub_status": ""},
        ]
    }
    assert render.operations_list(listing) == (
        "Id:o1  Type:create-volume  Status:New in-flight\n"
        "Id:o2  Type:delete-volume  Status:stale \n"
    )
    details = {
        "id": "o1",
        "type_name": "create-volume",
        "status": "failed",
        "sub_status": "",
        "changes": [
            {"id": "v1", "description": "Add volume"},
            {"id": "b1", "description": "Add brick"},
        ],
    }
    assert render.operation_details(details) == (
        "\nId: o1\nType: create-volume\nStatus: failed \nChanges:"
        "\n    Add volume: v1\n    Add brick: b1\n"
    )


def test_persistent_volume() -> None:
    pv = json.loads(render.persistent_volume(_volume(gid=2000), "ep"))
    assert pv["metadata"] == {
        "name": "glusterfs-" + VID[:8],
        "creationTimestamp": None,
        "annotations": {"pv.beta.kubernetes.io/gid": "2000"},
    }
    assert pv["spec"] == {
        "capacity": {"storage": "1Gi"},
        "glusterfs": {"endpoints": "ep", "path": f"vol_{VID}"},
        "accessModes": ["ReadWriteMany"],
        "persistentVolumeReclaimPolicy": "Retain",
    }
