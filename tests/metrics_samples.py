"""Reading a /metrics answer in tests: every sample by name, with its labels (histograms as
their _bucket, _sum and _count samples). Shared by the simulator's and the test-bed's tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples_of(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found
