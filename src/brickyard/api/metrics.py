"""Prometheus metrics: Heketi's gauges (names and labels unchanged), read from the store at
scrape time, and Brickyard's own (brickyard_metrics.py, docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..domain.model import Brick, Cluster, Device, Node, Volume
from ..services import journal
from ..services.context import ServiceContext
from ..services.registry import Services
from .brickyard_metrics import BrickyardCollector

# What Heketi's promhttp handler answers (and what most exporters still answer): the classic
# text format, which is what render() writes. prometheus_client's CONTENT_TYPE_LATEST now says
# version=1.0.0.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

DEVICE_LABELS = ["cluster", "hostname", "storage_hostname", "id", "device", "pv_uuid"]


class HeketiCollector(Collector):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("heketi_up", "Is heketi running?")
        try:
            with self.ctx.store.read() as tx:
                clusters = tx.all(Cluster)
                nodes = tx.all(Node)
                devices = tx.all(Device)
                volumes = [v for v in tx.all(Volume) if v.visible]
                bricks = tx.all(Brick)
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        count = GaugeMetricFamily("heketi_cluster_count", "Number of clusters")
        count.add_metric([], len(clusters))
        yield count
        per_cluster = {
            "heketi_volumes_count": "Number of volumes on cluster",
            "heketi_block_volumes_count": "Number of block volumes on cluster",
            "heketi_nodes_count": "Number of nodes on cluster",
        }
        families = {n: GaugeMetricFamily(n, h, labels=["cluster"]) for n, h in per_cluster.items()}
        for c in clusters:
            families["heketi_volumes_count"].add_metric(
                [c.id], sum(v.cluster_id == c.id for v in volumes)
            )
            families["heketi_block_volumes_count"].add_metric([c.id], 0)
            families["heketi_nodes_count"].add_metric(
                [c.id], sum(n.cluster_id == c.id for n in nodes)
            )
        yield from families.values()
        device_count = GaugeMetricFamily(
            "heketi_device_count",
            "Number of devices on host",
            labels=["cluster", "hostname", "storage_hostname"],
        )
        node_by_id = {n.id: n for n in nodes}
        for n in nodes:
            device_count.add_metric(
                [n.cluster_id, n.manage_host, n.storage_host],
                sum(d.node_id == n.id for d in devices),
            )
        yield device_count
        gauges = {
            name: GaugeMetricFamily(name, text, labels=DEVICE_LABELS)
            for name, text in (
                ("heketi_device_size", "Total size of the device (KiB)"),
                ("heketi_device_free", "Amount of free space available on the device (KiB)"),
                ("heketi_device_used", "Amount of space used on the device (KiB)"),
                ("heketi_device_size_bytes", "Total size of the device"),
                ("heketi_device_free_bytes", "Amount of free space available on the device"),
                ("heketi_device_used_bytes", "Amount of space used on the device"),
                ("heketi_device_brick_count", "Number of bricks on device"),
            )
        }
        for d in devices:
            node = node_by_id.get(d.node_id)
            if node is None:
                continue
            labels = [node.cluster_id, node.manage_host, node.storage_host, d.id, d.name, d.pv_uuid]
            gauges["heketi_device_size"].add_metric(labels, d.total)
            gauges["heketi_device_free"].add_metric(labels, d.free)
            gauges["heketi_device_used"].add_metric(labels, d.used)
            gauges["heketi_device_size_bytes"].add_metric(labels, d.total * 1024)
            gauges["heketi_device_free_bytes"].add_metric(labels, d.free * 1024)
            gauges["heketi_device_used_bytes"].add_metric(labels, d.used * 1024)
            gauges["heketi_device_brick_count"].add_metric(
                labels, sum(b.device_id == d.id for b in bricks)
            )
        yield from gauges.values()
        counts = journal.counts(self.ctx)
        for key, name in (
            ("stale", "heketi_operations_stale_count"),
            ("failed", "heketi_operations_failed_count"),
            ("new", "heketi_operations_new_count"),
            ("total", "heketi_operations_total_count"),
            ("in_flight", "heketi_operations_inFlight_count"),
        ):
            family = GaugeMetricFamily(name, f"Number of {key} operations")
            family.add_metric([], counts[key])
            yield family


def build_registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(HeketiCollector(services.ctx))
    registry.register(BrickyardCollector(services))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
