"""The authored SNMP recordings are exactly what their generator writes (edit the generator,
never the .snmprec files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.support.snmpsim import FIXTURES


def test_recordings_are_generated(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generate", FIXTURES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    setattr(module, "HERE", tmp_path)  # noqa: B010 - a module loaded from a path
    module.main()
    written = sorted(p.name for p in tmp_path.glob("*.snmprec"))
    assert written == ["access-switch.snmprec", "printer.snmprec"]
    for name in written:
        assert (tmp_path / name).read_text() == (FIXTURES / name).read_text(), name


def test_classified_pc_is_on_port_7_in_vlan_10() -> None:
    """The MAC the classified-PC scenarios look for: Q-BRIDGE FdbId 10, bridge port 7."""
    octets = ".".join(str(b) for b in (0x52, 0x54, 0x00, 0xC1, 0xA5, 0x51))
    record = f"1.3.6.1.2.1.17.7.1.2.2.1.2.10.{octets}|2|7"
    assert record in (FIXTURES / "access-switch.snmprec").read_text().splitlines()
