"""Peripherals collector: printers, USB devices, tokens, signing certificates and middleware."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import msgspec

from agent import data, platform
from agent.collectors.base import Collector, Facts, listing
from agent.config import AgentConfig
from agent.i18n import Translate, english
from agent.report import Peripherals
from agent.report.peripherals import Certificate

IssuerKind = Literal["government_specialised", "public_ca"]


class CaMarker(msgspec.Struct, kw_only=True, frozen=True):
    """An issuer marker of a Vietnamese signing CA (agent/data/ca_markers.yaml)."""

    marker: str
    kind: IssuerKind


def fold(text: str) -> str:
    """Lower case without Vietnamese diacritics: CAs write "Ban Cơ yếu" and "Ban Co yeu"."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def ca_markers(extra: list[str]) -> list[CaMarker]:
    """Shipped markers, then the operator's (as public CAs)."""
    shipped = msgspec.convert(data.load("ca_markers")["markers"], type=list[CaMarker])
    return shipped + [CaMarker(marker=m, kind="public_ca") for m in extra if m.strip()]


def classify(cert: Certificate, markers: list[CaMarker], now: datetime) -> Certificate:
    """The certificate with its issuer kind and days to expiry (first matching marker wins)."""
    issuer = fold(cert.issuer)
    hit = next((m for m in markers if fold(m.marker) in issuer), None)
    days = None
    if cert.not_after is not None:
        days = math.floor((cert.not_after - now).total_seconds() / 86400)
    return msgspec.structs.replace(
        cert,
        days_to_expiry=days,
        issuer_kind=hit.kind if hit else None,
        issuer_marker=hit.marker if hit else None,
    )


class PeripheralsCollector(Collector[Peripherals]):
    """Fills the ``peripherals`` section."""

    name = "peripherals"
    section = Peripherals

    def __init__(self, config: AgentConfig, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(config)
        self.markers = ca_markers(config.ca_markers)
        self.now = now or (lambda: datetime.now(UTC))

    def collect(self) -> Peripherals:
        """Collect every peripheral fact; each unavailable one is recorded with its reason."""
        per = platform.peripherals
        f = Facts()
        certs = f.get("certificates", per.certificates)
        now = self.now()
        return Peripherals(
            printers=f.get("printers", per.printers),
            usb_devices=f.get("usb_devices", per.usb_devices),
            smart_card_readers=f.get("smart_card_readers", per.smart_card_readers),
            certificates=None if certs is None else [classify(c, self.markers, now) for c in certs],
            signing_ports=f.get(
                "signing_ports", lambda: per.signing_ports(self.config.signing_ports)
            ),
            unknown=f.unknown,
        )

    def summary(self, section: Peripherals, t: Translate = english) -> list[tuple[str, str]]:
        """Printers, tokens, signing certificates and middleware at a glance."""
        printers = listing(
            section.printers, lambda p: f"{p.name} ({p.connection})", empty="NONE", t=t
        )
        tokens_text = listing(section.smart_card_readers, lambda r: r.name, t=t)
        left = t("{days} days left")
        certs_text = listing(
            section.certificates,
            lambda c: f"{c.issuer_marker or t('other CA')} ({left.format(days=c.days_to_expiry)})",
            t=t,
        )
        ports_text = listing(
            section.signing_ports,
            lambda p: f"{p.port} {t('listening') if p.listening else t('closed')}",
            t=t,
        )
        return [
            (t("Printers"), printers),
            (t("Signing tokens"), tokens_text),
            (t("Signing certificates"), certs_text),
            (t("Signing middleware"), ports_text),
        ]
