"""NodeMounts without mounting anything: a fake command runner keeps a mount table that starts
from real ``findmnt --json`` output recorded on the test machine (tests/fixtures/csi/: a
replica-3 volume staged at /tmp/fx/stage and bound to /tmp/fx/t1 rw and /tmp/fx/t2 ro; the same
with a second bind stacked on t1; after its client was SIGKILLed; nothing mounted), and checks
the commands built, the idempotency decisions and the path and input checks."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from brickyard.csi.node_mounts import (
    CommandResult,
    MountError,
    NodeMounts,
    parse_findmnt,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "csi"
VOL = "vol_fixture"
SOURCE = f"10.240.0.1:/{VOL}"
CONTEXT = {
    "server": "10.240.0.1",
    "volume": VOL,
    "backup-volfile-servers": "10.240.0.2,10.240.0.3",
    "gid": "2001",
    "heketi-volume-id": "0" * 32,
}
VID = "0" * 32
FUSE_OPTIONS = "relatime,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072"


class FakeSystem:
    """The mount table and the commands that change it, as the kernel would."""

    def __init__(self, root: Path, fixture: str = "findmnt-none.json") -> None:
        text = (FIXTURES / fixture).read_text().replace("/tmp/fx", str(root))
        self.table: list[dict[str, str]] = json.loads(text)["filesystems"]
        self.calls: list[list[str]] = []
        self.fail_mount: CommandResult | None = None

    def mounts(self) -> list[list[str]]:
        return [c for c in self.calls if c[0] != "findmnt"]

    def at(self, path: Path | str) -> list[dict[str, str]]:
        return [e for e in self.table if e["target"] == str(path)]

    def kill(self, source: str) -> None:
        """The client of `source` dies: every mount of it so far answers ENOTCONN."""
        for entry in self.table:
            if entry["source"] == source:
                entry["dead"] = "1"

    def probe(self, path: str) -> int:
        entries = self.at(path)
        return errno.ENOTCONN if entries and entries[-1].get("dead") else 0

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "findmnt":
            return CommandResult(0, json.dumps({"filesystems": self.table}))
        # the wrappers that put the client outside the plugin's life
        if argv[:2] == ["setsid", "--wait"]:
            argv = argv[2:]
        elif argv[0] == "systemd-run":
            argv = argv[argv.index("--") + 1 :]
        elif argv[0] == sys.executable:
            argv = argv[4:]
        if argv[:3] == ["mount", "-t", "glusterfs"]:
            if self.fail_mount is not None:
                return self.fail_mount
            options, source, target = argv[4], argv[5], argv[6]
            ro = "ro" in options.split(",")
            self.table.append(
                {
                    "target": target,
                    "source": source,
                    "fstype": "fuse.glusterfs",
                    "options": ("ro," if ro else "rw,") + FUSE_OPTIONS,
                }
            )
            return CommandResult(0)
        if argv[:2] == ["mount", "--bind"]:
            below = self.at(argv[2])
            if not below:
                return CommandResult(32, "", "mount: special device does not exist")
            self.table.append({**below[-1], "target": argv[3]})  # dead when its source is
            return CommandResult(0)
        if argv[:3] == ["mount", "-o", "remount,bind,ro"]:
            entry = self.at(argv[3])[-1]
            entry["options"] = "ro," + entry["options"].split(",", 1)[1]
            return CommandResult(0)
        if argv[0] == "umount":
            entries = self.at(argv[-1])
            if not entries:
                return CommandResult(32, "", f"umount: {argv[-1]}: not mounted.")
            self.table.remove(entries[-1])
            return CommandResult(0)
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "fx").mkdir()
    return tmp_path / "fx"


def make(
    root: Path, fixture: str = "findmnt-none.json", **kw: Any
) -> tuple[NodeMounts, FakeSystem]:
    fake = FakeSystem(root, fixture)
    kw.setdefault("systemd", False)
    nm = NodeMounts(
        root.parent / "state", allowed_roots=[root], runner=fake.run, probe=fake.probe, **kw
    )
    return nm, fake


def stage(nm: NodeMounts, root: Path, **kw: Any) -> None:
    args: dict[str, Any] = {
        "context": CONTEXT,
        "staging_path": str(root / "stage"),
        "mount_flags": [],
        "read_only": False,
    }
    args.update(kw)
    nm.stage(VID, args["context"], args["staging_path"], args["mount_flags"], args["read_only"])


def code_of(excinfo: pytest.ExceptionInfo[MountError]) -> str:
    return excinfo.value.code


# ---- the mount table --------------------------------------------------------------------


def test_parse_real_findmnt_output() -> None:
    entries = parse_findmnt((FIXTURES / "findmnt-staged-two-targets.json").read_text())
    ours = [e for e in entries if e.target.startswith("/tmp/fx/")]
    assert [(e.target, e.gluster_volume, e.read_only) for e in ours] == [
        ("/tmp/fx/stage", VOL, False),
        ("/tmp/fx/t1", VOL, False),
        ("/tmp/fx/t2", VOL, True),
    ]
    assert all(e.source == SOURCE and e.fstype == "fuse.glusterfs" for e in ours)
    others = [e for e in entries if not e.target.startswith("/tmp/fx/")]
    assert others and all(e.gluster_volume is None for e in others)
    stacked = parse_findmnt((FIXTURES / "findmnt-stacked-target.json").read_text())
    assert [e.target for e in stacked].count("/tmp/fx/t1") == 2


def test_parse_findmnt_unescapes_paths_and_rejects_garbage() -> None:
    text = json.dumps(
        {"filesystems": [{"target": "/a\\x20b", "source": "h:/v", "fstype": "x", "options": "rw"}]}
    )
    assert parse_findmnt(text)[0].target == "/a b"
    assert parse_findmnt("") == []
    with pytest.raises(MountError) as e:
        parse_findmnt("mount: oops")
    assert code_of(e) == "INTERNAL"


# ---- stage ------------------------------------------------------------------------------


def test_stage_builds_the_mount_command_and_a_private_record(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root, mount_flags=["acl", "noatime"])
    log_file = root.parent / "state" / "logs" / f"{VOL}.log"
    assert fake.mounts() == [
        [
            "setsid", "--wait", "mount", "-t", "glusterfs", "-o",
            f"backup-volfile-servers=10.240.0.2:10.240.0.3,log-level=ERROR,log-file={log_file},"
            "acl,noatime",
            SOURCE, str(root / "stage"),
        ]
    ]  # fmt: skip
    record = root.parent / "state" / "volumes" / f"{VID}.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    saved = json.loads(record.read_text())
    assert saved["volume"] == VOL and saved["backup_servers"] == ["10.240.0.2", "10.240.0.3"]
    assert saved["staging_path"] == str(root / "stage") and saved["targets"] == {}
    assert not [p for p in record.parent.iterdir() if p.name.endswith(".tmp")]


def test_stage_read_only_user_log_level_and_no_backups(root: Path) -> None:
    nm, fake = make(root)
    context = {"server": "node1.example.com", "volume": VOL, "backup-volfile-servers": ""}
    stage(nm, root, context=context, mount_flags=["log-level=WARNING"], read_only=True)
    options = fake.mounts()[0][6].split(",")
    assert "log-level=WARNING" in options and options[-1] == "ro"
    assert not any(o.startswith("backup-volfile-servers") for o in options)
    assert "log-level=ERROR" not in options


def test_client_outside_the_plugin_systemd_scope_or_cgroup(root: Path) -> None:
    nm, fake = make(root, systemd=True)
    stage(nm, root)
    argv = fake.mounts()[0]
    assert argv[:4] == ["systemd-run", "--scope", "--collect", "--quiet"]
    assert argv[argv.index("--") + 1 : argv.index("--") + 4] == ["mount", "-t", "glusterfs"]

    cgroup = root.parent / "cgroup"
    nm, fake = make(root, client_cgroup=cgroup)
    stage(nm, root)
    argv = fake.mounts()[0]
    assert argv[0] == sys.executable and argv[1] == "-c"
    assert argv[3] == str(cgroup / "cgroup.procs") and argv[4:7] == ["mount", "-t", "glusterfs"]
    assert cgroup.is_dir()


def test_stage_twice_mounts_once(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root)
    stage(nm, root)
    assert len(fake.mounts()) == 1 and len(fake.at(root / "stage")) == 1


def test_stage_over_a_mount_of_another_source_or_mode_is_already_exists(root: Path) -> None:
    nm, fake = make(root, "findmnt-staged-two-targets.json")
    with pytest.raises(MountError) as e:
        stage(nm, root, context={**CONTEXT, "volume": "vol_other"})
    assert code_of(e) == "ALREADY_EXISTS" and SOURCE in e.value.message
    with pytest.raises(MountError) as e:
        stage(nm, root, read_only=True)
    assert code_of(e) == "ALREADY_EXISTS"
    with pytest.raises(MountError) as e:  # not a GlusterFS mount at all
        stage(nm, root, staging_path=str(root.parent.parent))
    assert code_of(e) == "INVALID_ARGUMENT"  # outside the roots first
    assert fake.mounts() == []
    stage(nm, root)  # the same volume, already there (a record made for it): OK, no command
    assert fake.mounts() == []


def test_stage_of_a_dead_mount_mounts_again(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root)
    fake.kill(SOURCE)
    stage(nm, root)
    assert [c[0] for c in fake.mounts()] == ["setsid", "umount", "setsid"]
    assert len(fake.at(root / "stage")) == 1 and fake.probe(str(root / "stage")) == 0


def test_stage_failure_leaves_no_mount_and_names_the_log(root: Path) -> None:
    nm, fake = make(root)
    log_file = nm.log_file(VOL)
    log_file.write_text("E [glusterfsd-mgmt.c] failed to get the 'volume file' from server\n")
    fake.fail_mount = CommandResult(1, "", "Mount failed. Check the log file for more details.")
    with pytest.raises(MountError) as e:
        stage(nm, root)
    assert code_of(e) == "NOT_FOUND" and "Mount failed" in e.value.message
    assert str(log_file) in e.value.message
    log_file.write_text("E [socket.c] connection refused\n")
    with pytest.raises(MountError) as e:
        stage(nm, root)
    assert code_of(e) == "INTERNAL"
    assert fake.at(root / "stage") == []
    assert not (root.parent / "state" / "volumes" / f"{VID}.json").exists()


BAD_CONTEXTS = [
    {"volume": VOL},
    {"server": "10.240.0.1"},
    {"server": "-oexec", "volume": VOL},
    {"server": "a;reboot", "volume": VOL},
    {"server": "fe80::1", "volume": VOL},
    {"server": "10.240.0.1", "volume": "vol x"},
    {"server": "10.240.0.1", "volume": "../etc"},
    {"server": "10.240.0.1", "volume": "v,ro"},
    {"server": "10.240.0.1", "volume": VOL, "backup-volfile-servers": "h2,-o,x"},
    {"server": "10.240.0.1", "volume": VOL, "backup-volfile-servers": "h2:h3"},
    {"server": "10.240.0.1", "volume": VOL, "gid": "12a"},
    {"server": "10.240.0.1", "volume": VOL, "heketi-volume-id": "xyz"},
]


@pytest.mark.parametrize("context", BAD_CONTEXTS)
def test_bad_volume_context_is_refused_before_any_command(
    root: Path, context: dict[str, str]
) -> None:
    nm, fake = make(root)
    with pytest.raises(MountError) as e:
        stage(nm, root, context=context)
    assert code_of(e) == "INVALID_ARGUMENT"
    assert fake.calls == []


@pytest.mark.parametrize(
    "flag",
    [
        "ro,exec",
        "log-file=/etc/passwd",
        "backup-volfile-servers=evil",
        "subdir-mount=/x",
        "fuse-mountopts=anything",
        "dump-fuse=/tmp/x",
        "xlator-option=a=b c",
        "attribute-timeout=soon",
        "-o",
        "bogus",
    ],
)
def test_unsafe_mount_flags_are_refused(root: Path, flag: str) -> None:
    nm, fake = make(root)
    with pytest.raises(MountError) as e:
        stage(nm, root, mount_flags=[flag])
    assert code_of(e) == "INVALID_ARGUMENT" and fake.calls == []


def test_rw_flag_with_read_only_is_refused(root: Path) -> None:
    nm, _ = make(root)
    with pytest.raises(MountError) as e:
        stage(nm, root, mount_flags=["rw"], read_only=True)
    assert code_of(e) == "INVALID_ARGUMENT"


def test_known_flags_pass(root: Path) -> None:
    nm, fake = make(root)
    flags = ["acl", "noatime", "attribute-timeout=0.5", "xlator-option=*dht*.lookup-optimize=on"]
    stage(nm, root, mount_flags=[*flags, "acl"])
    assert fake.mounts()[0][6].endswith(",".join(flags))


# ---- paths ------------------------------------------------------------------------------


def test_paths_outside_the_roots_are_refused(root: Path) -> None:
    nm, fake = make(root)
    outside = root.parent / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "final").symlink_to(outside)
    bad = [
        "relative/path",
        "",
        str(outside / "x"),
        f"{root}/../elsewhere/x",
        str(root / "link" / "x"),  # a symlinked parent leading out
        str(root / "final"),  # a symlink as the path itself
        str(root) + "/",  # the root itself, not under it
        str(root / "a\nb"),
    ]
    for path in bad:
        with pytest.raises(MountError) as e:
            stage(nm, root, staging_path=path)
        assert code_of(e) == "INVALID_ARGUMENT", path
        for call in (
            lambda p=path: nm.publish(VID, str(root / "stage"), p, False),
            lambda p=path: nm.unpublish(VID, p),
            lambda p=path: nm.unstage(VID, p),
            lambda p=path: nm.stats(VID, p),
        ):
            with pytest.raises(MountError) as e:
                call()
            assert code_of(e) == "INVALID_ARGUMENT", path
    assert fake.calls == []


def test_bad_volume_ids_are_refused(root: Path) -> None:
    nm, _ = make(root)
    for vid in ("", "../x", "a/b", "-x", "x" * 200):
        with pytest.raises(MountError) as e:
            nm.unpublish(vid, str(root / "t1"))
        assert code_of(e) == "INVALID_ARGUMENT"


# ---- publish ----------------------------------------------------------------------------


def test_publish_binds_once_and_retries_never_stack(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root)
    t1, t2 = root / "pods" / "a" / "mount", root / "pods" / "b" / "mount"
    for _ in range(3):
        nm.publish(VID, str(root / "stage"), str(t1), False)
        nm.publish(VID, str(root / "stage"), str(t2), True)
    binds = [c for c in fake.mounts() if c[:2] == ["mount", "--bind"]]
    assert binds == [
        ["mount", "--bind", str(root / "stage"), str(t1)],
        ["mount", "--bind", str(root / "stage"), str(t2)],
    ]
    assert ["mount", "-o", "remount,bind,ro", str(t2)] in fake.mounts()
    assert len(fake.at(t1)) == 1 and len(fake.at(t2)) == 1 and t1.is_dir()
    saved = json.loads((root.parent / "state" / "volumes" / f"{VID}.json").read_text())
    assert saved["targets"] == {str(t1): False, str(t2): True}


def test_publish_incompatible_or_foreign_target_is_already_exists(root: Path) -> None:
    nm, fake = make(root, "findmnt-staged-two-targets.json")
    with pytest.raises(MountError) as e:
        nm.publish(VID, str(root / "stage"), str(root / "t1"), True)  # t1 is rw
    assert code_of(e) == "ALREADY_EXISTS"
    fake.table.append({"target": str(root / "t3"), "source": "tmpfs", "fstype": "tmpfs",
                       "options": "rw"})  # fmt: skip
    with pytest.raises(MountError) as e:
        nm.publish(VID, str(root / "stage"), str(root / "t3"), False)
    assert code_of(e) == "ALREADY_EXISTS"
    # the same as before: OK without a command, and the lost record is made again
    nm.publish(VID, str(root / "stage"), str(root / "t1"), False)
    nm.publish(VID, str(root / "stage"), str(root / "t2"), True)
    assert fake.mounts() == []


def test_publish_unstaged_is_failed_precondition(root: Path) -> None:
    nm, fake = make(root)
    with pytest.raises(MountError) as e:
        nm.publish(VID, str(root / "stage"), str(root / "t1"), False)
    assert code_of(e) == "FAILED_PRECONDITION" and fake.mounts() == []


def test_publish_read_write_of_a_read_only_stage_is_refused(root: Path) -> None:
    nm, _ = make(root)
    stage(nm, root, read_only=True)
    with pytest.raises(MountError) as e:
        nm.publish(VID, str(root / "stage"), str(root / "t1"), False)
    assert code_of(e) == "FAILED_PRECONDITION"
    nm.publish(VID, str(root / "stage"), str(root / "t1"), True)


def test_publish_clears_stacked_binds(root: Path) -> None:
    nm, fake = make(root, "findmnt-stacked-target.json")
    assert len(fake.at(root / "t1")) == 2
    nm.publish(VID, str(root / "stage"), str(root / "t1"), False)
    assert len(fake.at(root / "t1")) == 1
    assert fake.mounts() == [["umount", str(root / "t1")]]


def test_publish_on_a_dead_stage_repairs_it_and_rebinds_the_other_targets(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root)
    t1, t2, t3 = (str(root / t) for t in ("t1", "t2", "t3"))
    nm.publish(VID, str(root / "stage"), t1, False)
    nm.publish(VID, str(root / "stage"), t2, True)
    fake.calls.clear()
    fake.kill(SOURCE)  # every mount of it answers ENOTCONN
    nm.publish(VID, str(root / "stage"), t3, False)
    assert [c[:2] for c in fake.mounts()] == [
        ["umount", str(root / "stage")],
        ["setsid", "--wait"],
        ["umount", t1],
        ["mount", "--bind"],
        ["umount", t2],
        ["mount", "--bind"],
        ["mount", "-o"],
        ["mount", "--bind"],
    ]
    assert all(fake.probe(t) == 0 for t in (t1, t2, t3, str(root / "stage")))
    assert fake.at(t2)[-1]["options"].startswith("ro,")
    assert all(len(fake.at(t)) == 1 for t in (t1, t2, t3, str(root / "stage")))


# ---- unpublish, unstage -----------------------------------------------------------------


def test_unpublish_unmounts_everything_stacked_and_removes_the_dir(root: Path) -> None:
    nm, fake = make(root, "findmnt-stacked-target.json")
    (root / "t1").mkdir()
    nm.unpublish(VID, str(root / "t1"))
    assert fake.at(root / "t1") == [] and not (root / "t1").exists()
    assert fake.mounts() == [["umount", str(root / "t1")]] * 2
    nm.unpublish(VID, str(root / "t1"))  # again: OK
    nm.unpublish(VID, str(root / "never"))


def test_unpublish_of_a_dead_busy_mount_falls_back_to_lazy(root: Path) -> None:
    nm, fake = make(root, "findmnt-dead.json")
    real_run = fake.run

    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        if argv[:1] == ["umount"] and "-l" not in argv:
            fake.calls.append(list(argv))
            return CommandResult(32, "", "umount: target is busy.")
        return real_run(argv, timeout)

    nm.runner = run
    nm.unpublish(VID, str(root / "t1"))
    assert fake.mounts() == [["umount", str(root / "t1")], ["umount", "-l", str(root / "t1")]]
    assert fake.at(root / "t1") == []


def test_unpublish_leaves_a_foreign_mount_alone(root: Path) -> None:
    nm, fake = make(root)
    fake.table.append({"target": str(root / "t1"), "source": "tmpfs", "fstype": "tmpfs",
                       "options": "rw"})  # fmt: skip
    with pytest.raises(MountError) as e:
        nm.unpublish(VID, str(root / "t1"))
    assert code_of(e) == "FAILED_PRECONDITION" and fake.mounts() == []


def test_unstage_refuses_while_published_then_unmounts(root: Path) -> None:
    nm, fake = make(root)
    stage(nm, root)
    nm.publish(VID, str(root / "stage"), str(root / "t1"), False)
    with pytest.raises(MountError) as e:
        nm.unstage(VID, str(root / "stage"))
    assert code_of(e) == "FAILED_PRECONDITION" and str(root / "t1") in e.value.message
    nm.unpublish(VID, str(root / "t1"))
    nm.unstage(VID, str(root / "stage"))
    assert fake.at(root / "stage") == []
    assert not (root.parent / "state" / "volumes" / f"{VID}.json").exists()
    nm.unstage(VID, str(root / "stage"))  # again: OK
    assert (root / "stage").is_dir()  # the CO's directory: the CO removes it


def test_unstage_without_record_unmounts_the_gluster_mount(root: Path) -> None:
    nm, fake = make(root, "findmnt-dead.json")
    nm.unstage(VID, str(root / "stage"))
    assert fake.at(root / "stage") == []


# ---- stats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dead_errno", "text"),
    [
        (errno.ENOTCONN, "Transport endpoint is not connected"),
        (errno.ECONNABORTED, "Software caused connection abort"),
    ],
)
def test_stats_live_dead_and_not_ours(
    root: Path, monkeypatch: pytest.MonkeyPatch, dead_errno: int, text: str
) -> None:
    nm, _ = make(root)
    stage(nm, root)
    got = nm.stats(VID, str(root / "stage"))  # statvfs of the (unmounted) directory itself
    st = os.statvfs(root / "stage")
    assert got.total_bytes == st.f_blocks * st.f_frsize and got.total_inodes == st.f_files
    assert got.used_bytes + got.available_bytes <= got.total_bytes and not got.abnormal

    def dead(path: Any) -> os.statvfs_result:
        raise OSError(dead_errno, os.strerror(dead_errno), str(path))

    monkeypatch.setattr(os, "statvfs", dead)
    got = nm.stats(VID, str(root / "stage"))
    assert got.abnormal and text in got.message
    assert errno.errorcode[dead_errno] in got.message and got.total_bytes == 0
    for path in (root / "t9", root.parent):
        with pytest.raises(MountError) as e:
            nm.stats(VID, str(path))
        assert code_of(e) in ("NOT_FOUND", "INVALID_ARGUMENT")
    with pytest.raises(MountError) as e:
        nm.stats(VID, str(root / "t9"))
    assert code_of(e) == "NOT_FOUND"


# ---- the rest ---------------------------------------------------------------------------


def test_mount_error_codes() -> None:
    assert str(MountError("NOT_FOUND", "x")) == "NOT_FOUND: x"
    with pytest.raises(ValueError):
        MountError("OOPS", "x")


def test_a_busy_volume_is_aborted_after_the_lock_timeout(root: Path) -> None:
    nm, _ = make(root, lock_timeout=0.05)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with nm._lock(VID):
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    try:
        with pytest.raises(MountError) as e:
            stage(nm, root)
        assert code_of(e) == "ABORTED"
    finally:
        release.set()
        holder.join()
    stage(nm, root)


def test_state_dir_with_a_comma_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        NodeMounts(tmp_path / "a,b", allowed_roots=[tmp_path])
