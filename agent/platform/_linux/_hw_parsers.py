"""In-process parsers for binary firmware data: EDID base blocks and SMBIOS type-17 records.

No ``dmidecode``/``edid-decode`` fork: both formats are small and fixed, and a fork per device
would cost more CPU than the whole hardware section is allowed.
"""

from __future__ import annotations

import struct

from agent.errors import FactUnavailable
from agent.platform._inventory import MEMORY_TYPES, clean, diagonal_inches
from agent.report.hardware import MemoryModule, Monitor

_EDID_HEADER = b"\x00\xff\xff\xff\xff\xff\xff\x00"


def _edid_text(block: bytes) -> str | None:
    # Display descriptor text: 13 bytes, ended by 0x0A and padded with spaces (E-EDID 1.4,
    # section 3.10.3).
    text = block[5:18].split(b"\x0a", 1)[0].decode("cp437", "replace").strip()
    return text or None


def parse_edid(raw: bytes, connector: str | None = None) -> Monitor:
    """Decode the 128-byte EDID base block (VESA E-EDID 1.4 section 3)."""
    if len(raw) < 128 or raw[:8] != _EDID_HEADER:
        raise FactUnavailable(f"EDID of {connector or 'a monitor'} has no valid header")
    base = raw[:128]
    if sum(base) % 256 != 0:
        raise FactUnavailable(f"EDID of {connector or 'a monitor'} fails its checksum")
    # Bytes 8-9: manufacturer id, three 5-bit letters big-endian, 1 = 'A'.
    word = (base[8] << 8) | base[9]
    letters = [(word >> shift) & 0x1F for shift in (10, 5, 0)]
    maker = (
        "".join(chr(ord("A") + n - 1) for n in letters)
        if all(1 <= n <= 26 for n in letters)
        else None
    )
    product_code, serial_number = struct.unpack_from("<HI", base, 10)
    # Byte 17: year - 1990; byte 16 week 0xFF means byte 17 is the model year instead.
    year = base[17] + 1990 if base[17] else None
    width_cm, height_cm = base[21] or None, base[22] or None
    name = text_serial = None
    for offset in (54, 72, 90, 108):
        block = base[offset : offset + 18]
        if block[0:3] != b"\x00\x00\x00":
            continue  # a detailed timing descriptor, not a display descriptor
        if block[3] == 0xFC:
            name = _edid_text(block)
        elif block[3] == 0xFF:
            text_serial = _edid_text(block)
    serial = clean(text_serial) or (str(serial_number) if serial_number else None)
    return Monitor(
        connector=connector,
        maker=maker,
        model=name,
        product_code=product_code,
        serial=serial,
        year=year,
        width_cm=width_cm,
        height_cm=height_cm,
        diagonal_inches=diagonal_inches(width_cm, height_cm),
    )


def _smbios_strings(raw: bytes, length: int) -> list[str]:
    # The string set follows the formatted area: NUL-terminated strings, ended by a double NUL
    # (DSP0134 section 6.1.3). String number n (1-based) is strings[n - 1].
    tail = raw[length:]
    end = tail.find(b"\x00\x00")
    area = tail[: end if end >= 0 else len(tail)]
    return [s.decode("ascii", "replace") for s in area.split(b"\x00")] if area else []


def parse_memory_device(raw: bytes) -> MemoryModule | None:
    """Decode one SMBIOS type-17 Memory Device record (DSP0134 section 7.18).

    Returns None for an empty slot (size 0). Fields the record's version does not carry stay None.
    A short, truncated or otherwise malformed record raises :class:`FactUnavailable` (never
    ``struct.error``/``IndexError``): the caller skips it and keeps the other modules.
    """
    # Header: type, length, handle (DSP0134 6.1.2); type 17 is at least 15h bytes (SMBIOS 2.1).
    if len(raw) < 4:
        raise FactUnavailable(f"SMBIOS record of {len(raw)} bytes is too short for a header")
    if raw[0] != 17:
        raise FactUnavailable("not an SMBIOS type 17 (memory device) record")
    length = raw[1]
    if length < 0x15:
        raise FactUnavailable(f"SMBIOS type 17 record declares length {length}, below 21 bytes")
    if len(raw) < length:
        # The formatted area is cut short, so the string set that follows it is lost too.
        raise FactUnavailable(f"SMBIOS type 17 record is truncated ({len(raw)} of {length} bytes)")
    # Every read is bounded by the formatted area actually present, not the declared length.
    limit = min(length, len(raw))
    strings = _smbios_strings(raw, length)

    def byte(offset: int) -> int | None:
        return raw[offset] if offset < limit else None

    def string(offset: int) -> str | None:
        index = byte(offset)
        return clean(strings[index - 1]) if index and index <= len(strings) else None

    def word(offset: int) -> int | None:
        return int.from_bytes(raw[offset : offset + 2], "little") if offset + 2 <= limit else None

    def dword(offset: int) -> int | None:
        return int.from_bytes(raw[offset : offset + 4], "little") if offset + 4 <= limit else None

    size = word(0x0C)
    if size == 0:
        return None
    size_bytes: int | None = None
    if size is None or size == 0xFFFF:
        size_bytes = None
    elif size == 0x7FFF:
        # Extended Size (offset 1Ch, MB in bits 0-30) for modules of 32 GB and more; a record
        # too old to carry it cannot say the size.
        extended = dword(0x1C)
        size_bytes = (extended & 0x7FFFFFFF) * 1024 * 1024 if extended is not None else None
    elif size & 0x8000:
        size_bytes = (size & 0x7FFF) * 1024  # granularity bit set: kilobytes
    else:
        size_bytes = size * 1024 * 1024
    speed = word(0x15)
    if speed == 0xFFFF:
        speed = dword(0x54)  # Extended Speed (SMBIOS 3.3); None on older records
    memory_type = byte(0x12)
    return MemoryModule(
        slot=string(0x10),
        size_bytes=size_bytes,
        type=MEMORY_TYPES.get(memory_type) if memory_type is not None else None,
        speed_mts=speed or None,
        manufacturer=string(0x17),
        serial=string(0x18),
        part_number=string(0x1A),
    )
