"""The GlusterFS 10.3 rules (brickyard.domain.gluster_rules) against what GlusterFS really said.

The last tests replay every probe that testbed/record-gluster-options recorded on a real
cluster (tests/fixtures/gluster10_option_probes.json): what gluster refused is refused here;
what it accepted is accepted, except the deliberate strictness listed in STRICTER."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from brickyard.domain import gluster_rules as gr
from brickyard.domain.gluster_rules import (
    MAX_STORAGE_HOST_FOR_DEFAULT_NAMES,
    MAX_VOLUME_NAME,
    RESERVED_VOLUME_NAMES,
    Layout,
    option_problem,
    options_problem,
    replica_problem,
    volfile_name_problem,
    volume_name_problem,
)

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "gluster10_option_probes.json"
BRICK = "/var/lib/heketi/mounts/vg_" + "a" * 32 + "/brick_" + "b" * 32 + "/brick"
REPLICA3 = Layout("replicate", replica=3, bricks=3)


# ---- volume names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESERVED_VOLUME_NAMES))
def test_reserved_names_are_refused(name: str) -> None:
    assert volume_name_problem(name) == f"volume name {name!r} is reserved by GlusterFS"


def test_reserved_names_are_the_thirteen_of_the_cli() -> None:
    assert len(RESERVED_VOLUME_NAMES) == 13
    assert {"all", "volume", "force", "snap-max-hard-limit", "activate-on-create"} <= (
        RESERVED_VOLUME_NAMES
    )


@pytest.mark.parametrize("name", ["Volume", "FORCE", "Type", "volumes", "all_1", "my-volume"])
def test_reserved_names_only_exactly(name: str) -> None:
    # the CLI compares case-sensitively: `volume create Volume` works
    assert volume_name_problem(name) is None


@pytest.mark.parametrize("name", ["ALL", "All", "aLL"])
def test_any_spelling_of_all_is_refused(name: str) -> None:
    # deliberately stricter than `volume create` (which accepts them): `volume set/get/reset ALL`
    # then address every volume of the cluster, and `volume stop/delete aLL` fail (measured)
    problem = volume_name_problem(name)
    assert problem is not None and "'all'" in problem


@pytest.mark.parametrize(
    "name",
    ["a", "Z", "0", "9", "_", "a-b", "a_b", "A1_b-2", "vol_" + "0" * 32, "x" * MAX_VOLUME_NAME],
)
def test_good_names(name: str) -> None:
    assert volume_name_problem(name) is None


def test_name_length() -> None:
    assert MAX_VOLUME_NAME == 256
    assert volume_name_problem("x" * 256) is None
    assert volume_name_problem("x" * 257) == (
        "volume name is 257 characters long; GlusterFS allows 256"
    )
    assert volume_name_problem("") == "volume name is empty"


@pytest.mark.parametrize("name", ["-a", "-", "--help", "-1"])
def test_leading_dash_is_refused(name: str) -> None:
    assert volume_name_problem(name) == f"volume name {name!r} starts with '-'"


@pytest.mark.parametrize(
    ("name", "char"),
    [
        ("a.b", "."),
        ("a b", " "),
        ("a/b", "/"),
        ("a:b", ":"),
        ("a@b", "@"),
        ("a$b", "$"),
        ("a;b", ";"),
        ("a\nb", "\n"),
        ("a\x00b", "\x00"),
        ("é", "é"),
        ("a+b", "+"),
        ("a,b", ","),
        ("a*", "*"),
    ],
)
def test_other_characters_are_refused(name: str, char: str) -> None:
    assert volume_name_problem(name) == (
        f"volume name {name!r} contains {char!r}: GlusterFS allows only letters, digits, '_'"
        " and '-'"
    )


# ---- volume file names --------------------------------------------------------------------------


def test_volfile_rule_at_the_measured_boundary() -> None:
    # measured on 10.3 with host 10.200.0.1 and Brickyard's brick path: 133 works, 134 fails
    assert volfile_name_problem("v" * 133, "10.200.0.1", BRICK) is None
    problem = volfile_name_problem("v" * 134, "10.200.0.1", BRICK)
    assert problem is not None
    assert "252 characters, at most 251" in problem and "shorten the name by 1" in problem


def test_volfile_rule_counts_the_host() -> None:
    # measured with a 40-character alias of node 1: 103 works, 104 fails
    host = "node1-storage-network.brickyard-e2e.test"
    assert volfile_name_problem("v" * 103, host, BRICK) is None
    assert volfile_name_problem("v" * 104, host, BRICK) is not None


def test_longest_storage_host_for_default_names() -> None:
    default = "vol_" + "f" * 32
    assert MAX_STORAGE_HOST_FOR_DEFAULT_NAMES == 107
    assert volfile_name_problem(default, "h" * MAX_STORAGE_HOST_FOR_DEFAULT_NAMES, BRICK) is None
    assert volfile_name_problem(default, "h" * (MAX_STORAGE_HOST_FOR_DEFAULT_NAMES + 1), BRICK)


def test_volfile_rule_with_a_short_brick_path() -> None:
    # then the client volfile "trusted-<name>.tcp-gfproxy-fuse.vol" is the longest name
    # measured: 222 works, 223 fails with brick 10.200.0.1:/srv/b/s223
    assert volfile_name_problem("v" * 222, "10.200.0.1", "/srv/b/s222") is None
    problem = volfile_name_problem("v" * 223, "10.200.0.1", "/srv/b/s223")
    assert problem is not None and "trusted-" in problem


def test_brick_volfile_name() -> None:
    assert gr.brick_volfile_name("v", "10.0.0.1", "/srv/b/x") == "v.10.0.0.1.srv-b-x.vol"


# ---- layouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("replica", [None, 2, 3, 4])
def test_replica_counts_gluster_accepts(replica: int | None) -> None:
    assert replica_problem(replica) is None


@pytest.mark.parametrize("replica", [1, 0, -1])
def test_replica_below_two_is_refused(replica: int) -> None:
    assert replica_problem(replica) == (
        f"replica count {replica}: GlusterFS needs at least 2 (use durability none)"
    )


# ---- options ------------------------------------------------------------------------------------


def test_catalog_header() -> None:
    header = gr.catalog()["header"]
    assert header["gluster_version"].startswith("glusterfs 10.3")
    assert header["recorded"] and header["command"].startswith("testbed/record-gluster-options")
    assert len(gr.option_keys()) > 300


def test_groups_are_recorded() -> None:
    assert gr.groups() == [
        "db-workload",
        "distributed-virt",
        "gluster-block",
        "metadata-cache",
        "nl-cache",
        "samba",
        "virt",
    ]


@pytest.mark.parametrize("key", ["", " ", "a b", "a\tb", "-x", "--help", "a\x00b", "x\n"])
def test_bad_key_shapes(key: str) -> None:
    assert option_problem(key, "on") == (
        f"volume option name {key!r} must be a word without whitespace, NUL or a leading '-'"
    )


def test_unknown_keys() -> None:
    assert option_problem("foo.bar", "x") == "volume option foo.bar does not exist in GlusterFS 10"
    assert option_problem("Performance.Cache-Size", "64MB") == (
        "volume option Performance.Cache-Size does not exist in GlusterFS 10"
        " (did you mean performance.cache-size?)"
    )
    # gluster completes short names; Brickyard wants the full key
    assert option_problem("cache-size", "64MB") is not None


def test_empty_and_nul_values() -> None:
    assert option_problem("performance.cache-size", "") == (
        "volume option performance.cache-size: the value is empty"
    )
    assert option_problem("user.x", "") == "volume option user.x: the value is empty"
    assert option_problem("user.x", "a\x00b") == "volume option user.x: the value contains NUL"


@pytest.mark.parametrize("value", ["x", "a b", "-1", "*", "é", "x" * 1000, "$(id)"])
def test_user_options_take_any_value(value: str) -> None:
    assert option_problem("user.cifs", value) is None


def test_user_options_need_a_name() -> None:
    assert option_problem("user.", "x") == (
        "volume option 'user.': a user option needs a name after 'user.'"
    )
    assert option_problem("USER.x", "x") is not None  # keys are case-sensitive


def test_groups() -> None:
    assert option_problem("group", "virt", layout=REPLICA3) is None
    assert option_problem("group", "samba", layout=Layout("none", bricks=2)) is None
    problem = option_problem("group", "virt", layout=Layout("none", bricks=2))
    assert problem == (
        "volume option group virt cannot be set on a none volume: Cannot set"
        " cluster.shd-max-threads for a non-replicate volume."
    )
    assert option_problem("group", "no-such-group") == (
        "volume option group: 'no-such-group' is not a group of GlusterFS (db-workload,"
        " distributed-virt, gluster-block, metadata-cache, nl-cache, samba, virt)"
    )


def test_cluster_wide_options_are_refused() -> None:
    keys = gr.catalog()["cluster_wide_keys"]
    assert keys == ["client.strict-locks", "nfs.rdirplus", "server.outstanding-rpc-limit"]
    for key in keys:
        assert option_problem(key, "on") == (
            f"volume option {key}: GlusterFS copies it to every volume of the cluster;"
            " Brickyard sets options of one volume only"
        )


def test_options_gluster_keeps_for_all_volumes() -> None:
    problem = option_problem("cluster.brick-multiplex", "on")
    assert problem is not None and problem.startswith(
        "volume option cluster.brick-multiplex cannot be set on this volume:"
    )
    assert option_problem("cluster.op-version", "100000") is not None


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("performance.client-io-threads", "on", None),
        ("performance.client-io-threads", "OFF", None),
        ("performance.client-io-threads", "Enable", None),
        ("performance.client-io-threads", "1", None),
        (
            "performance.client-io-threads",
            "maybe",
            "volume option performance.client-io-threads: 'maybe' is not a boolean (on/off,"
            " yes/no, true/false, enable/disable, 1/0)",
        ),
        ("cluster.lookup-unhashed", "auto", None),
        (
            "cluster.lookup-unhashed",
            "YES",
            "volume option cluster.lookup-unhashed: 'YES' is not one of auto, yes, no, enable,"
            " disable, 1, 0, on, off",
        ),
        ("diagnostics.brick-log-level", "DEBUG", None),
        ("diagnostics.brick-log-level", "debug", "not one of"),
        ("network.ping-timeout", "42", None),
        ("network.ping-timeout", "10s", None),
        ("network.ping-timeout", "10m", None),
        (
            "network.ping-timeout",
            "99999999",
            "volume option network.ping-timeout: '99999999' is out of range, it must be between"
            " 0s and 1013s",
        ),
        (
            "network.ping-timeout",
            "1.5",
            "volume option network.ping-timeout: '1.5' is not a duration (e.g. 42, 42s, 10m, 1h)",
        ),
        ("performance.io-thread-count", "64", None),
        ("performance.io-thread-count", "65", "out of range, it must be between 1 and 64"),
        ("performance.io-thread-count", "0x10", "'0x10' is not an integer"),
        ("performance.cache-size", "64MB", None),
        ("performance.cache-size", "1.5GB", None),
        ("performance.cache-size", "64 MB", None),
        (
            "performance.cache-size",
            "abc",
            "volume option performance.cache-size: 'abc' is not a size (e.g. 64MB)",
        ),
        ("performance.cache-size", "-1", "is not a size"),
        ("cluster.min-free-disk", "10%", None),
        ("cluster.min-free-disk", "10GB", None),
        (
            "cluster.min-free-disk",
            "200%",
            "volume option cluster.min-free-disk: '200%' is out of range, it must be between 0"
            " and 100",
        ),
        ("cluster.min-free-disk", "1.5MB", "is not a percentage or a whole size"),
        ("features.shard-block-size", "64MB", None),
        ("features.shard-block-size", "1KB", "out of range, it must be between 4MB and 4TB"),
        ("server.statedump-path", "/tmp", None),
        ("server.statedump-path", "/srv/dumps", "must be a directory on every node"),
        ("auth.allow", "10.0.0.*,192.168.1.0/24,host.example.com", None),
        ("auth.allow", "*", None),
        ("auth.allow", "a;b", "is not a comma-separated list of addresses"),
    ],
)
def test_option_values(key: str, value: str, problem: str | None) -> None:
    found = option_problem(key, value, layout=REPLICA3, volume="v")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("features.snapshot-directory", ".snaps", None),
        ("features.snapshot-directory", ".A-b_9", None),
        ("features.snapshot-directory", "snaps", "must start with '.'"),
        ("features.snapshot-directory", ".", "is too short (2 at least)"),
        ("features.snapshot-directory", ".a/b", "must not contain '/' after the '.'"),
        ("features.snapshot-directory", "..", "must not contain '.' after the '.'"),
        ("features.snapshot-directory", "." + "x" * 255, "is too long (255 at most)"),
        ("performance.cache-priority", "*.jpg:1,*.txt:2", None),
        ("performance.cache-priority", "abc", "is not a list of pattern:priority"),
        ("changelog.changelog-dir", "/srv/changelogs", None),
        ("changelog.changelog-dir", "changelogs", "is not an absolute path"),
        ("locks.mandatory-locking", "forced", None),
        ("locks.mandatory-locking", "strict", "is not one of off, file, forced, optimal"),
        ("features.retention-mode", "enterprise", None),
        ("features.retention-mode", "on", "is not one of relax, enterprise"),
        ("cluster.min-free-inodes", "5", None),
        ("cluster.min-free-inodes", "5%", None),
        ("network.tcp-window-size", "1MB", None),
        ("network.tcp-window-size", "2MB", "must be between 0 and 1MB"),
        ("transport.listen-backlog", "2147483647", None),
        ("transport.listen-backlog", "4294967296", "out of range"),  # gluster: wraps to 0
    ],
)
def test_more_option_kinds(key: str, value: str, problem: str | None) -> None:
    found = option_problem(key, value, layout=REPLICA3)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_options_validated_in_one_layout_only_follow_it_everywhere() -> None:
    # gluster accepts `disperse.eager-lock abc` on a replicate volume (no disperse translator
    # there) and refuses it on a disperse volume: Brickyard refuses it on both
    disperse = Layout("disperse", disperse_data=2, disperse_redundancy=1, bricks=3)
    for layout in (REPLICA3, disperse, Layout("none", bricks=2)):
        assert option_problem("disperse.eager-lock", "on", layout=layout) is None
        assert option_problem("disperse.eager-lock", "abc", layout=layout) is not None
    assert option_problem("cluster.lock-migration", "on", layout=Layout("none", bricks=2)) is None
    assert option_problem("cluster.lock-migration", "on", layout=REPLICA3) is not None


def test_layout_dependent_bounds() -> None:
    assert option_problem("cluster.quorum-count", "3", layout=REPLICA3) is None
    replica2 = Layout("replicate", replica=2, bricks=2)
    assert option_problem("cluster.quorum-count", "3", layout=replica2) == (
        "volume option cluster.quorum-count: '3' is out of range, it must be between 1 and 2"
    )
    disperse = Layout("disperse", disperse_data=4, disperse_redundancy=2, bricks=6)
    assert option_problem("disperse.quorum-count", "6", layout=disperse) is None
    assert option_problem("disperse.quorum-count", "3", layout=disperse) is not None
    problem = option_problem("disperse.quorum-count", "2", layout=REPLICA3)
    assert problem is not None and "non-disperse" in problem
    distributed = Layout("none", distribute_count=4, bricks=4)
    assert option_problem("cluster.subvols-per-directory", "4", layout=distributed) is None
    assert option_problem("cluster.subvols-per-directory", "5", layout=distributed) is not None


def test_options_for_one_layout_only() -> None:
    none = Layout("none", bricks=2)
    assert option_problem("cluster.self-heal-daemon", "off", layout=REPLICA3) is None
    problem = option_problem("cluster.self-heal-daemon", "off", layout=none)
    assert problem == (
        "volume option cluster.self-heal-daemon cannot be set on this volume: Volume <volume>"
        " is not of replicate type"
    )


def test_read_subvolume_names_a_brick_of_the_volume() -> None:
    key = "cluster.read-subvolume"
    assert option_problem(key, "v-client-2", layout=REPLICA3, volume="v") is None
    assert option_problem(key, "v-client-3", layout=REPLICA3, volume="v") == (
        "volume option cluster.read-subvolume: 'v-client-3' is not a brick of the volume"
        " (v-client-N)"
    )
    assert option_problem(key, "w-client-0", layout=REPLICA3, volume="v") is not None
    assert option_problem(key, "v", layout=REPLICA3, volume="v") is not None


def test_options_that_need_another_option_first() -> None:
    assert option_problem("features.trash-dir", "bin") == (
        "volume option features.trash-dir needs features.trash on first (earlier in the same"
        " request)"
    )
    assert option_problem("features.trash-dir", "bin", preceding={"features.trash": "on"}) is None
    assert options_problem([("features.trash", "on"), ("features.trash-dir", "bin")]) is None
    assert options_problem([("features.trash-dir", "bin"), ("features.trash", "on")]) is not None
    assert options_problem([("features.trash", "off"), ("features.trash-dir", "bin")]) is not None


# ---- every recorded probe ------------------------------------------------------------------------


@cache
def recorded() -> dict[str, Any]:
    """The fixture, its probes expanded: context, durability, volume, key, value, accepted,
    message."""
    data: dict[str, Any] = json.loads(PROBES.read_text(encoding="utf-8"))
    layouts = data["header"]["layouts"]
    data["probes"] = [
        {
            "context": group["context"],
            "durability": layouts[group["context"]]["durability"],
            "volume": group["volume"],
            "key": group["key"],
            "value": value,
            "accepted": accepted,
            "message": data["messages"][message],
        }
        for group in data["groups"]
        for value, accepted, message in group["probes"]
    ]
    return data


def layout_of(context: str) -> Layout:
    return Layout(**recorded()["header"]["layouts"][context])


def verdict(probe: dict[str, Any]) -> str | None:
    context = probe["context"]
    preceding = None
    if context == "replicate-xlators":
        preceding = recorded()["header"]["switched_on_in_replicate_xlators"]
    return option_problem(
        probe["key"],
        probe["value"],
        layout=layout_of(context),
        volume=probe["volume"],
        preceding=preceding,
    )


JUNK = frozenset({"abc", "-x", "/tmp", "*"})


@cache
def junk_accepted() -> set[tuple[str, str]]:
    """(context, key) where gluster accepted 'abc' and every other value of JUNK it was given:
    the key is not validated there."""
    verdicts: dict[tuple[str, str], dict[str, bool]] = {}
    for p in recorded()["probes"]:
        if p["value"] in JUNK:
            verdicts.setdefault((p["context"], p["key"]), {})[p["value"]] = p["accepted"]
    return {w for w, got in verdicts.items() if got.get("abc") and all(got.values())}


def _translator_off(p: dict[str, Any]) -> bool:
    rule = gr._rule(p["key"], layout_of(p["context"]))
    return (
        (p["context"], p["key"]) in junk_accepted()
        and rule is not None
        and rule["kind"] not in ("text", "word")
    )


def _wrapped_around(p: dict[str, Any]) -> bool:
    """An integer above the rule's max although gluster refused a smaller one above the max (in
    any layout: the screening of the others did not try it)."""
    rule = gr._rule(p["key"], layout_of(p["context"])) or {}
    if rule.get("kind") != "int" or not p["value"].isdigit() or rule.get("max") is None:
        return False
    refused_between = (
        q
        for q in recorded()["probes"]
        if q["key"] == p["key"]
        and not q["accepted"]
        and q["value"].isdigit()
        and rule["max"] < int(q["value"]) < int(p["value"])
    )
    return any(refused_between)


# Probes gluster accepted and Brickyard refuses, on purpose; each with the reason.
STRICTER: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    (
        # gluster parses numbers with strtol(..., 0): 0x10 is 16. Nobody means that.
        "hexadecimal number",
        lambda p: p["value"].lower().startswith("0x"),
    ),
    (
        # glusterd validates an option only while its translator is in the volume graph (or its
        # layout has it): features.shard-block-size 1KB is accepted with shard off, and then
        # `features.shard on` (or `group virt`) fails. The rule comes from the probes with the
        # translator on, or from the layout that validates it.
        "not validated while its translator is off",
        _translator_off,
    ),
    (
        # glusterd copies these to every volume of the cluster (gNFS options)
        "cluster-wide option",
        lambda p: p["key"] in gr.catalog()["cluster_wide_keys"],
    ),
    (
        # transport.listen-backlog: 2147483648 and 4294967295 are refused, 4294967296 (0 in
        # 32 bits) passes; the rule stops at the first refusal
        "integer past a refused one (32-bit wraparound)",
        _wrapped_around,
    ),
    (
        # performance.cache-priority 'a:1:2' and 'x:1,' pass gluster's parser
        "malformed priority list",
        lambda p: p["key"] == "performance.cache-priority" and p["value"] in ("a:1:2", "x:1,"),
    ),
    (
        # gluster completes short names (cache-size) and takes 'user.' and keys with spaces
        "odd option name",
        lambda p: p["key"] in ("cache-size", "user.", "user.a b"),
    ),
]


def strictness(probe: dict[str, Any]) -> str | None:
    return next((reason for reason, match in STRICTER if match(probe)), None)


def test_the_fixture_is_recorded() -> None:
    probes = recorded()["probes"]
    assert len(probes) > 10000
    contexts = {p["context"] for p in probes}
    assert contexts == {"replicate", "replicate-xlators", "none", "disperse"}


def test_replay_refused_probes_are_refused() -> None:
    looser = [
        (p["context"], p["key"], p["value"], p["message"].splitlines()[0])
        for p in recorded()["probes"]
        if not p["accepted"] and verdict(p) is None
    ]
    assert looser == []


def test_replay_accepted_probes_are_accepted_or_deliberately_refused() -> None:
    unexplained = [
        (p["context"], p["key"], p["value"], verdict(p))
        for p in recorded()["probes"]
        if p["accepted"] and verdict(p) is not None and strictness(p) is None
    ]
    assert unexplained == []


def test_every_deliberate_strictness_is_used() -> None:
    used = {strictness(p) for p in recorded()["probes"] if p["accepted"] and verdict(p) is not None}
    assert used == {reason for reason, _ in STRICTER}
