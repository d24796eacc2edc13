"""What is sent: the text of an e-mail and the JSON of a webhook, for one notice or a digest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.policy.messages import SEVERITY_TEXT


class DeliveryError(Exception):
    """A send failed. ``permanent``: retrying cannot help (rejected address, 4xx webhook)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Item:
    """One notice as it is sent (a row of the outbox, or a test message)."""

    key: str
    unit_id: str
    severity: str
    kind: str
    subject: dict[str, str]
    body: dict[str, str]
    data: Any
    occurred_at: datetime


@dataclass(frozen=True)
class Attachment:
    """A file attached to an e-mail (read from the report archive and verified before)."""

    filename: str
    media_type: str
    content: bytes


_DIGEST_SUBJECT = {
    "vi": "[govguard] Tóm tắt hằng ngày: {count} thông báo",
    "en": "[govguard] Daily digest: {count} notices",
}
_DIGEST_INTRO = {
    "vi": "Các thông báo chưa gửi kể từ bản tóm tắt trước, nghiêm trọng nhất trước:",
    "en": "Notices since the previous digest, most severe first:",
}
_UNIT = {"vi": "Đơn vị", "en": "Unit"}
_AT = {"vi": "Thời điểm (UTC)", "en": "Time (UTC)"}
_FOOTER = {
    "vi": "Thư này do govguard gửi tự động; đừng trả lời thư này.",
    "en": "This message was sent automatically by govguard; do not reply.",
}
_ORDER = ("critical", "high", "medium", "low", "info")
#: Kinds whose subject stands on its own (a scheduled report is not an alert: no severity tag).
_PLAIN_KINDS = frozenset({"report.scheduled"})


def _severity(severity: str, lang: str) -> str:
    text = SEVERITY_TEXT.get(severity)
    return text.get(lang) if text is not None else severity


def _block(item: Item, lang: str) -> str:
    return "\n".join(
        [
            f"[{_severity(item.severity, lang).upper()}] {item.subject[lang]}",
            f"{_UNIT[lang]}: {item.unit_id}   {_AT[lang]}: {item.occurred_at:%Y-%m-%d %H:%M}",
            "",
            item.body[lang],
        ]
    )


def mail_text(items: list[Item], lang: str, *, digest: bool) -> tuple[str, str]:
    """Subject and plain-text body in ``lang`` (``vi`` or ``en``)."""
    if not digest and len(items) == 1:
        item = items[0]
        if item.kind in _PLAIN_KINDS:
            subject = f"[govguard] {item.subject[lang]}"
            return _one_line(subject), f"{item.body[lang]}\n\n-- \n{_FOOTER[lang]}\n"
        subject = f"[govguard] [{_severity(item.severity, lang)}] {item.subject[lang]}"
        return _one_line(subject), f"{_block(item, lang)}\n\n-- \n{_FOOTER[lang]}\n"
    ordered = sorted(items, key=lambda i: (_rank(i.severity), i.occurred_at, i.key))
    parts = [_DIGEST_INTRO[lang], *(_block(item, lang) for item in ordered)]
    body = "\n\n".join(parts) + f"\n\n-- \n{_FOOTER[lang]}\n"
    return _DIGEST_SUBJECT[lang].format(count=len(items)), body


def webhook_body(items: list[Item], lang: str, *, digest: bool, delivery: str) -> bytes:
    """The JSON a webhook receives: always a list of notices, texts in both languages."""
    payload = {
        "delivery": delivery,
        "type": "digest" if digest else "notice",
        "language": lang,
        "notices": [
            {
                "key": item.key,
                "unit_id": item.unit_id,
                "severity": item.severity,
                "kind": item.kind,
                "subject": item.subject,
                "body": item.body,
                "data": item.data,
                "occurred_at": item.occurred_at.isoformat().replace("+00:00", "Z"),
            }
            for item in items
        ],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _rank(severity: str) -> int:
    return _ORDER.index(severity) if severity in _ORDER else len(_ORDER)


def _one_line(text: str) -> str:
    # Producers' subjects must not add header lines to the mail.
    return " ".join(text.split())
