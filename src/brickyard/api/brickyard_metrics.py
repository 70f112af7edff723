"""Brickyard's own metrics (docs/metrics.md says which question each answers), made at scrape
time from what the server keeps anyway: the hot-path instruments (`brickyard.instruments`), the
node health monitor, the last examine, the heal sampler, and the database. Imported with
prometheus_client at the first scrape only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..domain.model import Cluster, Device, Node, OperationType, PendingOperation, Volume
from ..instruments import Histogram
from ..services.context import ServiceContext
from ..services.observed import HealSample
from ..services.registry import Services

KIB = 1024


def histogram_family(name: str, text: str, labels: list[str], data: Histogram) -> Metric:
    family = HistogramMetricFamily(name, text, labels=labels)
    bounds = [*(repr(float(b)) for b in data.bounds), "+Inf"]
    for values, series in sorted(data.series.items()):
        cumulative = list(accumulate(series.counts))
        family.add_metric(list(values), list(zip(bounds, cumulative, strict=True)), series.total)
    return family


def by_type_gauge(name: str, text: str, counts: Counter[str]) -> Metric:
    family = GaugeMetricFamily(name, text, labels=["type"])
    for op_type in OperationType:
        if op_type is not OperationType.UNKNOWN:
            family.add_metric([op_type.type_name], counts.get(op_type.type_name, 0))
    return family


class BrickyardCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def ctx(self) -> ServiceContext:
        return self.services.ctx

    def collect(self) -> Iterator[Metric]:
        yield from self._operations()
        yield from self._node_commands()
        yield from self._nodes_health()
        yield from self._observed()
        yield from self._from_store()

    # -- in memory: always answers, even without the database --------------------------------
    def _operations(self) -> Iterator[Metric]:
        ops = self.ctx.operations
        yield histogram_family(
            "brickyard_operation_duration_seconds",
            "Seconds an operation of this server took, by type and how it ended",
            ["type", "outcome"],
            ops.durations,
        )
        yield by_type_gauge(
            "brickyard_operations_in_flight",
            "Operations this server is executing now",
            ops.by_type(ops.running),
        )
        yield by_type_gauge(
            "brickyard_operations_queued",
            "Operations this server accepted (202) whose execution has not started",
            ops.by_type(ops.queued),
        )
        queue = self.services.queue
        slots = GaugeMetricFamily(
            "brickyard_operation_slots_used",
            "Throttled operations holding a slot of max_inflight_operations on this server",
        )
        slots.add_metric([], queue.throttled_in_flight)
        yield slots
        limit = GaugeMetricFamily(
            "brickyard_operation_slots_limit", "max_inflight_operations: beyond it, 429"
        )
        limit.add_metric([], queue.limit)
        yield limit
        refused = CounterMetricFamily(
            "brickyard_requests_throttled",
            "Requests answered 429 Server busy (the in-flight limit was reached)",
        )
        refused.add_metric([], queue.refused)
        yield refused

    def _node_commands(self) -> Iterator[Metric]:
        times = getattr(self.ctx.agent, "command_times", None)
        if isinstance(times, Histogram):
            yield histogram_family(
                "brickyard_node_command_duration_seconds",
                "Seconds a command took on a node (simulator: a node agent operation)",
                ["node", "command"],
                times,
            )

    def _nodes_health(self) -> Iterator[Metric]:
        reachable = GaugeMetricFamily(
            "brickyard_node_reachable",
            "1 when the node answered the last health check (its commands can run)",
            labels=["node"],
        )
        up = GaugeMetricFamily(
            "brickyard_node_glusterd_up",
            "1 when glusterd answered on the node at the last health check",
            labels=["node"],
        )
        checked = GaugeMetricFamily(
            "brickyard_node_checked_timestamp_seconds",
            "When the node was last checked (Unix time)",
            labels=["node"],
        )
        for host, health in sorted(self.services.health.hosts.items()):
            reachable.add_metric([host], 1 if health.reachable else 0)
            up.add_metric([host], 1 if health.up else 0)
            checked.add_metric([host], health.checked)
        yield from (reachable, up, checked)

    def _observed(self) -> Iterator[Metric]:
        seen = self.ctx.observed
        entries = GaugeMetricFamily(
            "brickyard_volume_heal_entries",
            "Entries waiting to heal at the volume's last sample (none when gluster could "
            "not tell)",
            labels=["volume"],
        )
        down = GaugeMetricFamily(
            "brickyard_volume_heal_bricks_down",
            "Bricks gluster did not report connected at the volume's last heal sample",
            labels=["volume"],
        )
        sampled = GaugeMetricFamily(
            "brickyard_volume_heal_sampled_timestamp_seconds",
            "When the volume's heal backlog was last sampled (Unix time)",
            labels=["volume"],
        )
        for name, sample in sorted(seen.heal.items()):
            if sample.entries is not None:
                entries.add_metric([name], sample.entries)
            down.add_metric([name], sample.bricks_down)
            sampled.add_metric([name], sample.sampled)
        yield from (entries, down, sampled)
        last = seen.last_examine
        drift = GaugeMetricFamily(
            "brickyard_examine_drift",
            "Differences between the database and the nodes the last examine left, by kind",
            labels=["kind"],
        )
        fixed = GaugeMetricFamily(
            "brickyard_examine_fixed", "Differences the last examine repaired (--fix)"
        )
        finished = GaugeMetricFamily(
            "brickyard_examine_timestamp_seconds", "When the last examine finished (Unix time)"
        )
        if last is not None:
            for kind, count in sorted(last.remaining.items()):
                drift.add_metric([kind], count)
            fixed.add_metric([], last.fixed)
            finished.add_metric([], last.finished)
        yield from (drift, fixed, finished)

    # -- from the database -----------------------------------------------------------------
    def _from_store(self) -> Iterator[Metric]:
        try:
            with self.ctx.store.read() as tx:
                clusters = tx.all(Cluster)
                nodes = tx.all(Node)
                devices = tx.all(Device)
                volumes = tx.all(Volume)
                pending = {op.id: op.type for op in tx.all(PendingOperation)}
        except Exception:  # heketi_up says the database is away; ours are then absent
            return
        yield from self._capacity(nodes, devices)
        yield self._volume_states(clusters, volumes, pending)

    def _capacity(self, nodes: list[Node], devices: list[Device]) -> Iterator[Metric]:
        labels = ["cluster", "zone", "hostname", "device", "id"]
        sizes = {
            kind: GaugeMetricFamily(f"brickyard_device_{kind}_bytes", text, labels=labels)
            for kind, text in (
                ("size", "Size of the device's space for bricks"),
                ("used", "Space of the device bricks hold or have reserved"),
                ("free", "Space of the device left for new bricks"),
            )
        }
        zones = {
            kind: GaugeMetricFamily(
                f"brickyard_zone_{kind}_bytes", text, labels=["cluster", "zone"]
            )
            for kind, text in (
                ("size", "Size of the devices of the zone's nodes"),
                ("used", "Space bricks hold or have reserved on the zone's devices"),
                ("free", "Space left for new bricks on the zone's devices"),
            )
        }
        node_by_id = {n.id: n for n in nodes}
        zone_sums: dict[tuple[str, str], list[int]] = {}
        for n in nodes:  # a zone with nodes and no devices yet is an empty zone, not absent
            zone_sums.setdefault((n.cluster_id, str(n.zone)), [0, 0, 0])
        for d in devices:
            node = node_by_id.get(d.node_id)
            if node is None:
                continue
            zone = str(node.zone)
            values = (d.total * KIB, d.used * KIB, d.free * KIB)
            for family, value in zip(sizes.values(), values, strict=True):
                family.add_metric([node.cluster_id, zone, node.manage_host, d.name, d.id], value)
            sums = zone_sums[(node.cluster_id, zone)]
            for i, value in enumerate(values):
                sums[i] += value
        for (cluster, zone), sums in sorted(zone_sums.items()):
            for family, value in zip(zones.values(), sums, strict=True):
                family.add_metric([cluster, zone], value)
        yield from sizes.values()
        yield from zones.values()

    def _volume_states(
        self, clusters: list[Cluster], volumes: list[Volume], pending: dict[str, OperationType]
    ) -> Metric:
        heal = self.ctx.observed.heal
        counts: Counter[tuple[str, str]] = Counter()
        for v in volumes:
            counts[(v.cluster_id, volume_state(v, pending, heal_down(heal, v.name)))] += 1
        family = GaugeMetricFamily(
            "brickyard_volumes",
            "Volumes by state: online, degraded (bricks down at the last heal sample), "
            "creating, deleting, changing (another operation holds it)",
            labels=["cluster", "state"],
        )
        for cluster in sorted(c.id for c in clusters):
            for state in VOLUME_STATES:
                family.add_metric([cluster, state], counts.get((cluster, state), 0))
        return family


VOLUME_STATES = ("online", "degraded", "creating", "deleting", "changing")


def heal_down(heal: dict[str, HealSample], name: str) -> bool:
    sample = heal.get(name)
    return sample is not None and sample.bricks_down > 0


def volume_state(volume: Volume, pending: dict[str, OperationType], bricks_down: bool) -> str:
    if volume.pending_op_id:
        op_type = pending.get(volume.pending_op_id)
        if op_type in (OperationType.CREATE_VOLUME, OperationType.CLONE_VOLUME):
            return "creating"
        if op_type is OperationType.DELETE_VOLUME:
            return "deleting"
        return "changing"
    return "degraded" if bricks_down else "online"
