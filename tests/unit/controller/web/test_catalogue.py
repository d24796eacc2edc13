"""Contract: every visible string of the dashboard is translated into Vietnamese.

Two checks: every message the code and templates ask for (extracted exactly as `make messages`
does) has a Vietnamese text in the catalogue, with the same placeholders; and no template holds
visible text outside a translation call (text between tags, and the attributes people read:
title, placeholder, aria-label, alt).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import nodes

from controller.web.templating import TEMPLATES_DIR, environment

ROOT = Path(__file__).resolve().parents[4]
WEB = ROOT / "controller" / "web"
CATALOGUE = WEB / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"N_": None, "gettext": None, "ngettext": (1, 2), "_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
#: Words that are the same in every language (the product's name, units of measure).
SAME_IN_EVERY_LANGUAGE = {"govguard", "MAC", "IP", "CSV", "JSON", "ID", "SSH", "SNMP", "CPU", "RAM"}
_READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}


def _wanted() -> dict[str, str]:
    """Every msgid the dashboard uses → where it was found."""
    found: dict[str, str] = {}
    method_map = [
        ("controller/web/**.py", "python"),
        ("controller/web/templates/**.html", "jinja2"),
    ]
    options = {
        "controller/web/templates/**.html": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "true",
            "lstrip_blocks": "true",
        }
    }
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords=KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_every_message_has_a_vietnamese_text() -> None:
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    missing = []
    for msgid, where in sorted(_wanted().items()):
        message = catalog.get(msgid)
        if message is None:
            message = next((m for m in catalog if isinstance(m.id, tuple) and msgid in m.id), None)
        if message is None or not message.string or message.fuzzy:
            missing.append(f"{where}: {msgid!r}")
            continue
        string = message.string
        texts: tuple[str, ...] = tuple(string) if isinstance(string, list | tuple) else (string,)
        for text in texts:
            if not text:
                missing.append(f"{where}: {msgid!r} (a plural form is empty)")
            elif set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(str(msgid))):
                missing.append(f"{where}: {msgid!r} has other placeholders in Vietnamese")
    assert not missing, "untranslated (run `make messages` and fill in the .po):\n" + "\n".join(
        missing
    )


def test_catalogue_has_no_stale_entries() -> None:
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    wanted = set(_wanted())
    stale = [
        m.id
        for m in catalog
        if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in wanted
    ]
    assert not stale, f"entries no code uses any more (run `make messages`): {stale}"


class _VisibleText(HTMLParser):
    """Collects text a person would read that is not a translation call's output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in _READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._check(data)

    def _check(self, text: str) -> None:
        words = re.findall(r"[^\W\d_]{2,}", text.replace("\x00", " "))
        leftover = [w for w in words if w not in SAME_IN_EVERY_LANGUAGE]
        if leftover:
            self.found.append(text.strip())


def _templates() -> list[str]:
    return sorted(str(p.relative_to(TEMPLATES_DIR)) for p in TEMPLATES_DIR.rglob("*.html"))


@pytest.mark.parametrize("name", _templates())
def test_template_has_no_untranslated_text(name: str) -> None:
    env = environment("vi")
    source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    tree = env.parse(source)
    # The literal HTML of the template, with every expression, tag and call replaced by a marker.
    chunks: list[str] = []

    def walk(node: nodes.Node) -> None:
        if isinstance(node, nodes.TemplateData):
            chunks.append(node.data)
            return
        if isinstance(node, nodes.Output | nodes.Template | nodes.Block | nodes.If | nodes.For):
            for child in node.iter_child_nodes():
                walk(child)
            return
        chunks.append("\x00")

    walk(tree)
    parser = _VisibleText()
    parser.feed("".join(chunks))
    parser.close()
    assert not parser.found, f"{name}: text outside a translation call: {parser.found}"
