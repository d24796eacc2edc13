"""Organisation files for the inventory tests, and a data directory to import them into."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "inventory"
SMALL = FIXTURES / "small.yaml"
EXAMPLE = Path(__file__).resolve().parents[4] / "inventory" / "example-district.yaml"


def variant(tmp_path: Path, old: str, new: str, name: str = "variant.yaml") -> Path:
    """A copy of the small file with one piece of text replaced (which must be there)."""
    text = SMALL.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
