"""The hot-path instruments: fixed-bucket histograms and the operations' bookkeeping."""

from __future__ import annotations

from brickyard.instruments import Histogram, OperationInstruments
from brickyard.nodes.commands.argv import command_name


def test_a_value_on_a_bound_counts_in_that_bucket_as_prometheus_le_says() -> None:
    h = Histogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(("a",), seconds)
    series = h.series[("a",)]
    assert series.counts == [2, 2, 1]  # <= 0.1, <= 1, +Inf
    assert series.count == 5
    assert series.total == 0.05 + 0.1 + 0.5 + 1.0 + 7.0


def test_an_operation_moves_from_queued_to_running_to_its_outcome() -> None:
    ops = OperationInstruments()
    ops.planned("op1", "create-volume")
    ops.planned("op2", "delete-volume")
    assert ops.by_type(ops.queued) == {"create-volume": 1, "delete-volume": 1}
    ops.started("op1", "create-volume")
    assert ops.by_type(ops.queued) == {"delete-volume": 1}
    assert ops.by_type(ops.running) == {"create-volume": 1}
    ops.ended("op1", "create-volume", "succeeded", 0.3)
    assert not ops.running
    assert ops.durations.series[("create-volume", "succeeded")].count == 1


def test_command_names_keep_the_program_and_subcommand_not_the_names() -> None:
    gluster = ("gluster", "--mode=script", "--timeout=600", "volume", "create", "vol_1", "h:/b")
    assert command_name(gluster) == "gluster volume create"
    assert (
        command_name(("gluster", "--mode=script", "pool", "list", "--xml")) == "gluster pool list"
    )
    assert command_name(("/usr/sbin/lvm", "lvcreate", "-qq", "--name", "x")) == "lvm lvcreate"
    # an lvm_wrapper's words come first
    assert command_name(("nsenter", "-t", "1", "/usr/sbin/lvm", "vgs")) == "lvm vgs"
    assert command_name(("/usr/bin/udevadm", "info", "--query=symlink")) == "udevadm info"
    assert command_name(("mkfs.xfs", "-i", "size=512", "/dev/x")) == "mkfs.xfs"
    assert command_name(()) == ""
