"""Shipped lists both platform implementations match against (CQĐT-06/07).

``agent/data/vietnamese_text.yaml`` (fonts, input methods) and the token vendors of
``agent/data/ca_markers.yaml`` are plain data; this module types them once and holds the small
matching helpers, so the Linux and Windows code match the same way.
"""

from __future__ import annotations

import re
from functools import cache

import msgspec

from agent import data
from agent.report.software import InputMethod


class FontFamily(msgspec.Struct, kw_only=True, frozen=True):
    """A Unicode font family worth reporting and how to recognise its files or registry names."""

    family: str
    files: tuple[str, ...] = ()
    registry: tuple[str, ...] = ()


class LegacyFont(msgspec.Struct, kw_only=True, frozen=True):
    """A legacy 8-bit Vietnamese font naming pattern."""

    kind: str
    pattern: str


class InputMethodSignature(msgspec.Struct, kw_only=True, frozen=True):
    """How to recognise one Vietnamese input method."""

    name: str
    patterns: tuple[str, ...]
    processes: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        """Whether an installed program or package name is this input method."""
        return any(re.search(p, text, re.IGNORECASE) for p in self.patterns)


class VietnameseCatalogue(msgspec.Struct, kw_only=True, frozen=True):
    """The whole vietnamese_text.yaml."""

    unicode_fonts: tuple[FontFamily, ...]
    legacy_fonts: tuple[LegacyFont, ...]
    input_methods: tuple[InputMethodSignature, ...]


@cache
def vietnamese() -> VietnameseCatalogue:
    """The shipped Vietnamese fonts and input methods."""
    return msgspec.convert(data.load("vietnamese_text"), type=VietnameseCatalogue)


@cache
def token_vendors() -> dict[str, str]:
    """USB vendor id (lower-case hex) to signing-token maker."""
    raw = data.load("ca_markers").get("token_vendors") or {}
    return {str(k).lower().zfill(4): str(v) for k, v in raw.items()}


@cache
def signing_port_names() -> dict[int, str]:
    """Local port to the signing middleware expected on it."""
    raw = data.load("ca_markers").get("signing_ports") or {}
    return {int(k): str(v) for k, v in raw.items()}


def legacy_font(name: str) -> bool:
    """Whether a font file or font name is a legacy TCVN3/VNI font."""
    base = name.strip().lower()
    return any(re.search(f.pattern, base) for f in vietnamese().legacy_fonts)


def input_methods(
    installed: list[tuple[str, str | None]], processes: set[str] | None
) -> list[InputMethod]:
    """Input methods found among installed (name, version) pairs and running process names.

    ``processes`` holds lower-case executable names; ``None`` when processes were not looked at.
    """
    found: list[InputMethod] = []
    for sig in vietnamese().input_methods:
        hit = next(((n, v) for n, v in installed if sig.matches(n)), None)
        running = None if processes is None else any(p.lower() in processes for p in sig.processes)
        if hit is None and not running:
            continue
        detail = None if hit is None else (f"{hit[0]} {hit[1]}" if hit[1] else hit[0])
        found.append(
            InputMethod(name=sig.name, installed=hit is not None, running=running, detail=detail)
        )
    return found
