"""The pure parts of the Heketi import: reading the JSON text, grouping bricks into sets, the
messages. Whole dumps and the database are covered in tests/integration/test_import_export.py."""

from __future__ import annotations

from typing import Any

import pytest

from brickyard.domain.model import Brick, BrickSubType
from brickyard.heketidb.importer import (
    MAX_REPORTED,
    DumpError,
    ImportSummary,
    _group_bricks,
    parse_dump,
    parse_json,
)

C, N, D = "c" * 32, "a" * 32, "d" * 32


def _brick(index: int, node: str, subtype: BrickSubType = BrickSubType.NORMAL) -> Brick:
    return Brick(f"{index:032x}", "e" * 32, "d" * 32, node, 1, 1, 0, subtype=subtype)


def _empty_dump() -> dict[str, Any]:
    return {
        name: {}
        for name in (
            "clusterentries",
            "volumeentries",
            "brickentries",
            "nodeentries",
            "deviceentries",
            "blockvolumeentries",
            "dbattributeentries",
            "pendingoperations",
        )
    }


def _one_node_dump() -> dict[str, Any]:
    """A cluster with one node and one device, with Go's nulls where Heketi writes them."""
    dump = _empty_dump()
    dump["clusterentries"][C] = {
        "Info": {"id": C, "nodes": [N], "volumes": None, "block": True, "file": True}
    }
    dump["nodeentries"][N] = {
        "State": "online",
        "Info": {
            "zone": 1,
            "hostnames": {"manage": ["h1"], "storage": ["h1"]},
            "cluster": C,
            "id": N,
        },
        "Devices": [D],
    }
    dump["deviceentries"][D] = {
        "State": "failed",
        "Info": {"name": "/dev/vdb", "storage": {"total": 10, "free": 10, "used": 0}, "id": D},
        "Bricks": None,
        "NodeId": N,
    }
    return dump


# -- the JSON text ---------------------------------------------------------------------------


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(DumpError) as caught:
        parse_json('{\n  "clusterentries": {,}\n}')
    assert str(caught.value) == (
        "not valid JSON: Expecting property name enclosed in double quotes at line 2 column 22"
    )


@pytest.mark.parametrize("text", ['{"clusterentries": {', '{"a": "unterminated', '{"a": 1,\n\n'])
def test_a_text_that_stops_early_is_called_truncated(text: str) -> None:
    with pytest.raises(DumpError, match=r"the file ends early: is it truncated\?"):
        parse_json(text)


def test_duplicate_keys_and_nan_are_refused() -> None:
    with pytest.raises(DumpError, match="the key 'x' appears twice in one object"):
        parse_json('{"x": 1, "x": 2}')
    with pytest.raises(DumpError, match="NaN is not a JSON value"):
        parse_json('{"x": NaN}')


# -- reading a dump --------------------------------------------------------------------------


def test_nulls_read_as_zero_values_and_missing_extras_take_defaults() -> None:
    dump = parse_dump(_one_node_dump())
    (device,) = dump.devices
    assert (device.backend, device.extent_size, device.state.value) == ("lvm", 4096, "failed")
    assert dump.summary() == ImportSummary(clusters=1, nodes=1, devices=1)


def test_newer_sections_may_be_missing() -> None:
    dump = _one_node_dump()
    for section in ("blockvolumeentries", "dbattributeentries", "pendingoperations"):
        del dump[section]
    assert len(parse_dump(dump).nodes) == 1


def test_true_is_not_an_integer_and_states_are_checked() -> None:
    dump = _one_node_dump()
    dump["nodeentries"][N]["Info"]["zone"] = True
    dump["deviceentries"][D]["State"] = "broken"
    with pytest.raises(DumpError) as caught:
        parse_dump(dump)
    assert caught.value.problems == [
        f"nodeentries.{N}.Info.zone: expected an integer, got a boolean",
        f"deviceentries.{D}.State: 'broken' is not one of 'online', 'offline', 'failed'",
    ]


def test_unsafe_names_are_refused() -> None:
    """Names reach node commands: they must pass the API's own patterns."""
    dump = _one_node_dump()
    dump["nodeentries"][N]["Info"]["hostnames"]["manage"] = ["-oProxyCommand=x"]
    dump["deviceentries"][D]["Info"]["name"] = "/dev/sdb; rm -rf /"
    with pytest.raises(DumpError) as caught:
        parse_dump(dump)
    assert caught.value.problems == [
        f"nodeentries.{N}.Info.hostnames.manage: '-oProxyCommand=x' is not a valid hostname",
        f"deviceentries.{D}.Info.name: '/dev/sdb; rm -rf /' is not a valid device name",
    ]


def test_entry_key_and_info_id_must_agree() -> None:
    dump = _one_node_dump()
    dump["nodeentries"][N]["Info"]["id"] = "b" * 32
    with pytest.raises(DumpError, match=f"{'b' * 32} differs from the entry's key {N}"):
        parse_dump(dump)


# -- brick sets ------------------------------------------------------------------------------


def _sets(groups: list[list[Brick]]) -> list[list[int]]:
    return [[int(b.id, 16) for b in members] for members in groups]


def test_bricks_in_gluster_order_are_cut_into_sets() -> None:
    nodes = ["n1", "n2", "n3", "n1", "n2", "n3"]
    bricks = [_brick(i, node) for i, node in enumerate(nodes)]
    assert _sets(_group_bricks(bricks, 3)) == [[0, 1, 2], [3, 4, 5]]


def test_bricks_sorted_by_id_keep_a_set_on_different_nodes() -> None:
    nodes = ["n1", "n1", "n2", "n2", "n3", "n3"]
    groups = _group_bricks([_brick(i, node) for i, node in enumerate(nodes)], 3)
    assert _sets(groups) == [[0, 2, 4], [1, 3, 5]]
    assert all(len({b.node_id for b in members}) == 3 for members in groups)


def test_an_arbiter_set_gets_one_arbiter_and_two_data_bricks() -> None:
    arbiter = BrickSubType.ARBITER
    bricks = [
        _brick(0, "n1", arbiter),
        _brick(1, "n2", arbiter),
        _brick(2, "n3"),
        _brick(3, "n1"),
        _brick(4, "n2"),
        _brick(5, "n3"),
    ]
    groups = _group_bricks(bricks, 3)
    assert [sum(b.subtype is arbiter for b in members) for members in groups] == [1, 1]
    assert all(len({b.node_id for b in members}) == 3 for members in groups)


def test_a_partial_last_set_is_kept() -> None:
    groups = _group_bricks([_brick(i, f"n{i}") for i in range(4)], 3)
    assert _sets(groups) == [[0, 1, 2], [3]]


# -- messages --------------------------------------------------------------------------------


def test_summary_counts_and_plurals() -> None:
    assert ImportSummary(1, 3, 9, 4, 12, 0).text() == (
        "Imported 1 cluster, 3 nodes, 9 devices, 4 volumes, 12 bricks, 0 pending operations"
    )
    assert ImportSummary(2, 1, 1, 1, 1, 1).text() == (
        "Imported 2 clusters, 1 node, 1 device, 1 volume, 1 brick, 1 pending operation"
    )


def test_many_problems_are_capped() -> None:
    problems = [f"p{i}: bad" for i in range(MAX_REPORTED + 5)]
    text = str(DumpError(problems))
    assert text.startswith(f"the dump has {MAX_REPORTED + 5} problems:\n  p0: bad\n")
    assert text.endswith(f"  p{MAX_REPORTED - 1}: bad\n  ... and 5 more")
    assert str(DumpError(["only: one"])) == "only: one"
