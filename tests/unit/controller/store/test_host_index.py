"""The search columns ingest pulls out of reports (controller.store.host_index)."""

from __future__ import annotations

import gzip
import json

from controller.store.host_index import IndexValues, from_full, from_sections


def test_a_full_report_gives_every_column() -> None:
    body = {
        "os": {
            "version": {"family": "windows", "name": "Windows 11 Pro", "version": "10.0",
                        "display_version": "23H2"},
            "users": [{"name": "an"}, {"name": "binh"}],
        },
        "hardware": {"system": {"serial": "  SN-1  "}},
        "connectivity": {"lan": {"reachable": True}, "internet": {"reachable": False}},
    }  # fmt: skip
    assert from_full(gzip.compress(json.dumps(body).encode())) == IndexValues(
        "Windows 11 Pro", "23H2", "an", "SN-1", True, False
    )


def test_missing_or_broken_parts_are_none() -> None:
    assert from_full(gzip.compress(b'{"os": {"users": []}}')) == IndexValues()
    assert from_full(b"\x1f\x8bnot gzip") == IndexValues()
    assert from_full(json.dumps({"os": {"users": [{"name": "x" * 500}]}}).encode()).last_user == (
        "x" * 200
    )


def test_heartbeat_sections() -> None:
    assert from_sections(b'{"connectivity": {"lan": {"reachable": false}}}') == (False, None)
    assert from_sections(b'{"security": {}}') == (None, None)
    packed = gzip.compress(b'{"connectivity": {"internet": {"reachable": true}}}')
    assert from_sections(packed) == (None, True)
    assert from_sections(b"{broken") == (None, None)
