"""Reading an exposition back: ``{(name, labels): value}`` of every sample."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str | bytes) -> Samples:
    """Every sample of an exposition, keyed by name and sorted labels."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(text: str | bytes) -> set[str]:
    """The names of the metric families of an exposition (as documented: counters end _total)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names
