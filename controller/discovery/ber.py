"""SNMPv2c messages in BER (RFC 3416 PDUs in RFC 1901 messages): encode requests, decode answers.

The poller's hot path. pysnmp decodes every answer through pyasn1's schema-driven decoder, about
0.1 ms of CPU per value; a 48-port switch is some 600 values a round. A v2c message is a handful
of tag-length-value fields, which this module reads directly into the client's plain values
(:data:`controller.discovery.snmp.Value`) several times faster. SNMPv3 (USM authentication and
encryption) stays with pysnmp.

Only what a manager needs: GetRequest, GetBulkRequest and SetRequest out (INTEGER values for
SET), Response in. Anything malformed raises :class:`BerError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "END_OF_MIB",
    "GET",
    "GET_BULK",
    "SET",
    "Answer",
    "BerError",
    "EndOfMib",
    "Response",
    "Value",
    "decode_oid",
    "decode_response",
    "encode_oid",
    "encode_request",
]

# PDU tags (RFC 3416 section 3: context-specific, constructed).
GET, GET_NEXT, RESPONSE, SET, GET_BULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06
# SNMPv2-SMI application types (RFC 2578 section 7.1).
_IP_ADDRESS, _COUNTER32, _GAUGE32, _TIMETICKS, _OPAQUE, _COUNTER64 = (
    0x40,
    0x41,
    0x42,
    0x43,
    0x44,
    0x46,
)
# RFC 3416 exceptions in a variable binding.
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB_VIEW = 0x80, 0x81, 0x82
_VERSION_2C = 1
_UNSIGNED = frozenset({_COUNTER32, _GAUGE32, _TIMETICKS, _COUNTER64})


class EndOfMib:
    """The endOfMibView exception of a variable binding (there is nothing after this OID)."""

    def __repr__(self) -> str:
        return "END_OF_MIB"


END_OF_MIB = EndOfMib()
#: A decoded value: INTEGER and counters as int, OCTET STRING as bytes, OID and IpAddress as
#: dotted str, NULL and the noSuch exceptions as None.
Value = int | bytes | str | None
#: A value in an answer, where endOfMibView may also come.
Answer = Value | EndOfMib


class BerError(ValueError):
    """Bytes that are not a well-formed SNMPv2c message."""


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded Response-PDU."""

    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[tuple[int, ...], Answer]]


# -- encoding ------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return _tlv(_INTEGER, value.to_bytes(size, "big", signed=True))


def _subidentifier(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def encode_oid(oid: Sequence[int]) -> bytes:
    """The BER content of an OBJECT IDENTIFIER (no tag or length)."""
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise BerError(f"cannot encode OID {oid!r}")
    return _subidentifier(oid[0] * 40 + oid[1]) + b"".join(_subidentifier(s) for s in oid[2:])


def encode_request(
    tag: int,
    request_id: int,
    community: bytes,
    varbinds: Sequence[tuple[Sequence[int], int | None]],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A v2c message with a GetRequest, GetBulkRequest or SetRequest PDU.

    A binding's value is None (NULL, for GET and GETBULK) or an INTEGER to SET.
    """
    bindings = b"".join(
        _tlv(
            _SEQUENCE,
            _tlv(_OID, encode_oid(oid)) + (b"\x05\x00" if value is None else _integer(value)),
        )
        for oid, value in varbinds
    )
    if tag == GET_BULK:
        fields = _integer(non_repeaters) + _integer(max_repetitions)
    else:
        fields = _integer(0) + _integer(0)
    pdu = _tlv(tag, _integer(request_id) + fields + _tlv(_SEQUENCE, bindings))
    return _tlv(_SEQUENCE, _integer(_VERSION_2C) + _tlv(_OCTETS, community) + pdu)


# -- decoding ------------------------------------------------------------------------------


def _header(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """``(tag, start of the content, end of the content)`` of the field at ``at``."""
    if at + 2 > end:
        raise BerError("truncated field")
    tag = data[at]
    first = data[at + 1]
    at += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + count > end:
            raise BerError("bad length")
        size = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + size > end:
        raise BerError("field longer than the message")
    return tag, at, at + size


def decode_oid(content: bytes) -> tuple[int, ...]:
    """An OBJECT IDENTIFIER's BER content as a tuple of sub-identifiers."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] & 0x80:
        raise BerError("bad OBJECT IDENTIFIER")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def _value(tag: int, content: bytes) -> Answer:
    if tag == _INTEGER:
        return int.from_bytes(content, "big", signed=True)
    if tag in (_OCTETS, _OPAQUE):
        return content
    if tag in _UNSIGNED:
        return int.from_bytes(content, "big")
    if tag == _OID:
        return ".".join(map(str, decode_oid(content)))
    if tag == _IP_ADDRESS:
        if len(content) != 4:
            raise BerError("bad IpAddress")
        return ".".join(map(str, content))
    if tag == _END_OF_MIB_VIEW:
        return END_OF_MIB
    if tag in (_NULL, _NO_SUCH_OBJECT, _NO_SUCH_INSTANCE):
        return None
    raise BerError(f"unknown value type 0x{tag:02x}")


def _int_field(data: bytes, at: int, end: int) -> tuple[int, int]:
    tag, start, stop = _header(data, at, end)
    if tag != _INTEGER or start == stop:
        raise BerError("expected an INTEGER")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_response(data: bytes) -> Response:
    """A v2c message holding a Response-PDU."""
    tag, at, end = _header(data, 0, len(data))
    if tag != _SEQUENCE:
        raise BerError("not an SNMP message")
    version, at = _int_field(data, at, end)
    if version != _VERSION_2C:
        raise BerError(f"not SNMPv2c (version field {version})")
    tag, _, at = _header(data, at, end)  # the community: not checked, the request id is
    if tag != _OCTETS:
        raise BerError("no community")
    tag, at, end = _header(data, at, end)
    if tag != RESPONSE:
        raise BerError(f"not a Response-PDU (0x{tag:02x})")
    request_id, at = _int_field(data, at, end)
    error_status, at = _int_field(data, at, end)
    error_index, at = _int_field(data, at, end)
    tag, at, end = _header(data, at, end)
    if tag != _SEQUENCE:
        raise BerError("no variable bindings")
    varbinds: list[tuple[tuple[int, ...], Answer]] = []
    append = varbinds.append
    while at < end:
        tag, start, stop = _header(data, at, end)
        if tag != _SEQUENCE:
            raise BerError("bad variable binding")
        tag, name_start, name_stop = _header(data, start, stop)
        if tag != _OID:
            raise BerError("variable binding without an OID")
        tag, value_start, value_stop = _header(data, name_stop, stop)
        append(
            (
                decode_oid(data[name_start:name_stop]),
                _value(tag, data[value_start:value_stop]),
            )
        )
        at = stop
    return Response(request_id, error_status, error_index, varbinds)
