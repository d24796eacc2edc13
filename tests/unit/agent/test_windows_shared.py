"""Helpers shared by the Windows areas (``_winshared``): batch parts and people's SIDs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.errors import FactUnavailable
from agent.platform._windows import _ps, _winshared
from agent.platform._windows import hardware as win_hardware


@pytest.fixture
def batch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Make every batched query return the given hashtable."""

    def use(data: dict[str, Any]) -> None:
        _ps.clear_cache()
        monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))

    yield use
    _ps.clear_cache()


DISK = {"DeviceId": "0", "FriendlyName": "Samsung SSD 870 EVO 500GB", "Size": 500107862016}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param([DISK], [DISK], id="complete list"),
        pytest.param([], [], id="looked, found none"),
        pytest.param(DISK, DISK, id="one object"),
        pytest.param("Asia/Ho_Chi_Minh", "Asia/Ho_Chi_Minh", id="scalar"),
        pytest.param(
            [DISK, {"error": "Lỗi nhà cung cấp WMI", "Code": 1}],
            [DISK, {"error": "Lỗi nhà cung cấp WMI", "Code": 1}],
            id="a record that merely has an error field",
        ),
    ],
)
def test_part_passes_complete_results(batch: Any, value: Any, expected: Any) -> None:
    batch({"disks": value})
    assert _winshared.part("hardware", "", "disks") == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"error": "Truy cập bị từ chối."}, id="error object"),
        pytest.param([DISK, {"error": "Truy cập bị từ chối."}], id="records then an error"),
    ],
)
def test_part_rejects_errors_and_partial_lists(batch: Any, value: Any) -> None:
    batch({"disks": value})
    with pytest.raises(FactUnavailable, match="disks: Truy cập bị từ chối"):
        _winshared.part("hardware", "", "disks")


def test_hardware_partial_list_is_unavailable(batch: Any) -> None:
    # Another area reading through the same helper: half a disk list is no disk list.
    batch({"physical_disks": [DISK, {"error": "Lỗi nhà cung cấp WMI"}]})
    with pytest.raises(FactUnavailable, match="partial result discarded"):
        win_hardware._rows("physical_disks")


@pytest.mark.parametrize(
    ("sid", "person"),
    [
        pytest.param("S-1-5-21-3623811015-3361044348-30300820-1001", True, id="local account"),
        pytest.param("S-1-12-1-2948417283-1162460372-3917616540-3525129467", True, id="Entra"),
        pytest.param("S-1-5-18", False, id="LocalSystem"),
        pytest.param("S-1-5-21-3623811015-3361044348-30300820-1001_Classes", False, id="classes"),
        pytest.param("S-1-5-21-", False, id="truncated"),
        pytest.param(None, False, id="absent"),
    ],
)
def test_is_user_sid(sid: Any, person: bool) -> None:
    assert _winshared.is_user_sid(sid) is person
