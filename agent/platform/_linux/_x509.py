"""Just enough DER to read an X.509 certificate's names, validity and serial (RFC 5280 §4.1).

The agent has no crypto dependency and only needs the fields a policy looks at, so a small TLV
reader is enough; nothing here verifies a signature.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

import msgspec

from agent.errors import FactUnavailable

#: Attribute types printed in distinguished names (RFC 4514 §3 short names, plus the common
#: e-mail and UID attributes Vietnamese CAs put in subjects).
_OIDS = {
    "2.5.4.3": "CN",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "S",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "T",
    "1.2.840.113549.1.9.1": "E",
    "0.9.2342.19200300.100.1.1": "UID",
}


class ParsedCert(msgspec.Struct, kw_only=True, frozen=True):
    """The fields of a certificate the report carries."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    serial: str
    thumbprint: str


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at ``pos``."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, vs, ve = _tlv(buf, start)
        out.append((tag, vs, ve))
        start = ve
    return out


def _oid(raw: bytes) -> str:
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _string(tag: int, raw: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return raw.decode("utf-16-be", "replace")
    return raw.decode("utf-8" if tag == 0x0C else "latin-1", "replace")


def _name(buf: bytes, start: int, end: int) -> str:
    """A Name in the order Windows and RFC 4514 print it (most specific first)."""
    parts: list[str] = []
    for _set_tag, ss, se in _children(buf, start, end):
        for _seq_tag, qs, qe in _children(buf, ss, se):
            (_t1, os_, oe), (vtag, vs, ve) = _children(buf, qs, qe)[:2]
            key = _OIDS.get(_oid(buf[os_:oe]), _oid(buf[os_:oe]))
            parts.append(f"{key}={_string(vtag, buf[vs:ve])}")
    return ", ".join(reversed(parts))


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, years 50-99 are 19xx (RFC 5280 §4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def parse_der(der: bytes) -> ParsedCert:
    """Read a DER certificate; ValueError when it is not one."""
    try:
        _t, cs, ce = _tlv(der, 0)
        _t, ts, te = _children(der, cs, ce)[0]
        fields = _children(der, ts, te)
        if fields and fields[0][0] == 0xA0:  # explicit [0] version
            fields = fields[1:]
        serial, _alg, issuer, validity, subject = fields[:5]
        (nb_tag, nbs, nbe), (na_tag, nas, nae) = _children(der, validity[1], validity[2])[:2]
        return ParsedCert(
            subject=_name(der, subject[1], subject[2]),
            issuer=_name(der, issuer[1], issuer[2]),
            not_before=_time(nb_tag, der[nbs:nbe]),
            not_after=_time(na_tag, der[nas:nae]),
            serial=der[serial[1] : serial[2]].hex().upper().lstrip("0") or "0",
            # Windows' Thumbprint is the SHA-1 of the DER encoding; same here for comparison.
            thumbprint=_sha1_hex(der),
        )
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not an X.509 certificate: {exc}") from exc


_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def parse_pem(text: str) -> list[ParsedCert]:
    """Every certificate in a PEM text; FactUnavailable when one is garbage."""
    out = []
    for body in _PEM.findall(text):
        try:
            out.append(parse_der(base64.b64decode("".join(body.split()), validate=True)))
        except (ValueError, binascii.Error) as exc:
            raise FactUnavailable(f"unreadable certificate: {exc}") from exc
    return out


def _sha1_hex(der: bytes) -> str:
    """Thumbprint as Windows shows it (SHA-1 of the DER, upper-case hex)."""
    # hashlib loads OpenSSL (~5 ms); most PCs have no certificate, so import it only when needed.
    import hashlib

    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
