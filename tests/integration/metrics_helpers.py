"""Reading GET /metrics in tests: every sample by name, with its labels."""

from __future__ import annotations

from metrics_samples import Samples, samples_of

from .conftest import Harness


async def scrape(harness: Harness) -> Samples:
    """Every sample of GET /metrics, by sample name (histograms: _bucket, _sum, _count)."""
    r = await harness.get("/metrics")
    assert r.status_code == 200, r.text
    return samples_of(r.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels` (0 when there is none)."""
    matching = [
        v for found, v in samples.get(name, []) if all(found.get(k) == x for k, x in labels.items())
    ]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else 0.0


def labelled(samples: Samples, name: str, key: str) -> dict[str, float]:
    return {found[key]: v for found, v in samples.get(name, [])}
