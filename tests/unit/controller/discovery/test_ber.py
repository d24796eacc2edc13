"""The v2c codec against pysnmp's own (pyasn1) encoder and decoder, and on broken bytes."""

from __future__ import annotations

import pytest
from pyasn1.codec.ber import decoder, encoder  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c

from controller.discovery import ber


def response(varbinds: list[tuple[tuple[int, ...], object]], request_id: int = 4242) -> bytes:
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, "public")
    pdu = v2c.GetResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_error_status(pdu, 0)
    v2c.apiPDU.set_varbinds(pdu, varbinds)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def test_decode_every_type() -> None:
    data = response(
        [
            (
                (1, 3, 6, 1, 2, 1, 1, 1, 0),
                v2c.OctetString(b"CBS350 \xe2\x80\x94 t\xe1\xba\xa7ng 1"),
            ),
            ((1, 3, 6, 1, 2, 1, 1, 2, 0), v2c.ObjectIdentifier("1.3.6.1.4.1.9.6.1.95.48.5")),
            ((1, 3, 6, 1, 2, 1, 1, 3, 0), v2c.TimeTicks(4294967295)),
            ((1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 1), v2c.Integer(-2147483648)),
            ((1, 3, 6, 1, 2, 1, 2, 2, 1, 14, 1), v2c.Counter32(4294967295)),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15, 1), v2c.Gauge32(100000)),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1), v2c.Counter64(2**64 - 1)),
            ((1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 63, 0, 1), v2c.IpAddress("10.63.0.1")),
            ((1, 3, 6, 1, 2, 1, 1, 9, 0), v2c.NoSuchObject()),
            ((1, 3, 6, 1, 2, 1, 1, 9, 1), v2c.NoSuchInstance()),
            ((2, 999, 1234567), v2c.EndOfMibView()),
        ]
    )
    decoded = ber.decode_response(data)
    assert (decoded.request_id, decoded.error_status, decoded.error_index) == (4242, 0, 0)
    assert [value for _, value in decoded.varbinds] == [
        "CBS350 — tầng 1".encode(),
        "1.3.6.1.4.1.9.6.1.95.48.5",
        4294967295,
        -2147483648,
        4294967295,
        100000,
        2**64 - 1,
        "10.63.0.1",
        None,
        None,
        ber.END_OF_MIB,
    ]
    assert decoded.varbinds[-1][0] == (2, 999, 1234567)


def test_long_lengths() -> None:
    """A response over 64 KiB of values (multi-octet lengths at every level)."""
    rows: list[tuple[tuple[int, ...], object]] = [
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 2, i), v2c.OctetString(b"x" * 300)) for i in range(250)
    ]
    decoded = ber.decode_response(response(rows))
    assert len(decoded.varbinds) == 250 and decoded.varbinds[249][0][-1] == 249


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**31 - 1])
def test_encode_set_integer(value: int) -> None:
    data = ber.encode_request(ber.SET, 7, b"private", [((1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 49), value)])
    message, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert rest == b""
    pdu = v2c.apiMessage.get_pdu(message)
    assert pdu.tagSet == v2c.SetRequestPDU.tagSet
    ((name, decoded),) = v2c.apiPDU.get_varbinds(pdu)
    assert tuple(name) == (1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 49) and int(decoded) == value
    assert str(v2c.apiMessage.get_community(message)) == "private"


def test_encode_getbulk() -> None:
    oids = [(1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2), (1, 0, 8802, 1, 1, 2, 1, 4, 1, 1, 5)]
    data = ber.encode_request(
        ber.GET_BULK, 2**31 - 1, b"public", [(o, None) for o in oids], max_repetitions=32
    )
    message, _ = decoder.decode(data, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    assert int(v2c.apiBulkPDU.get_max_repetitions(pdu)) == 32
    assert int(v2c.apiPDU.get_request_id(pdu)) == 2**31 - 1
    assert [tuple(name) for name, _ in v2c.apiPDU.get_varbinds(pdu)] == oids


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x30\x05\x02\x01\x01", id="truncated"),
        pytest.param(b"\x30\x84\xff\xff\xff\xff", id="huge length"),
        pytest.param(response([((1, 3, 6), v2c.Integer(1))])[:-1], id="cut short"),
        pytest.param(b"\x30\x03\x02\x01\x00", id="SNMPv1"),
        pytest.param(b"\x04\x03abc", id="not a sequence"),
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.decode_response(data)


def test_oid_round_trip() -> None:
    for oid in [(1, 3, 6, 1, 4, 1, 2**32 - 1), (2, 999, 3), (0, 39), (1, 0, 8802, 1, 1, 2)]:
        assert ber.decode_oid(ber.encode_oid(oid)) == oid
    with pytest.raises(ber.BerError):
        ber.encode_oid((1, 40))
