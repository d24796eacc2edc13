"""Reasons and outcomes in Vietnamese (the default) and English.

Results carry a reason *code* and its values, never a sentence, so the findings store keeps
data and each reader sees their language. Every code has both texts; a test checks that.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from controller.policy.model import Reason, Text

Lang = Literal["vi", "en"]

OUTCOME_TEXT: dict[str, Text] = {
    "pass": Text("đạt", "pass"),
    "fail": Text("KHÔNG ĐẠT", "FAIL"),
    "not_applicable": Text("không áp dụng", "not applicable"),
    "error": Text("lỗi", "error"),
}

SEVERITY_TEXT: dict[str, Text] = {
    "critical": Text("nghiêm trọng", "critical"),
    "high": Text("cao", "high"),
    "medium": Text("trung bình", "medium"),
    "low": Text("thấp", "low"),
    "info": Text("thông tin", "info"),
}

REASON_TEXT: dict[str, Text] = {
    "all_checks_hold": Text("mọi điều kiện đều đạt", "every check holds"),
    "check_holds": Text("điều kiện checks[{check}] đạt", "checks[{check}] holds"),
    "no_check_holds": Text("không điều kiện cấm nào xảy ra", "no forbidden condition holds"),
    "check_failed": Text(
        "{fact} là {actual}, yêu cầu {expected}", "{fact} is {actual}, expected {expected}"
    ),
    "no_check_holds_any": Text(
        "không điều kiện nào trong {checks} điều kiện đạt", "none of the {checks} checks holds"
    ),
    "forbidden_match": Text(
        "{fact} là {actual}, điều kiện cấm {expected}",
        "{fact} is {actual}, forbidden: {expected}",
    ),
    "fact_missing": Text("báo cáo không có {fact}", "the report has no {fact}"),
    "fact_unknown": Text(
        "máy không xác định được {fact}: {why}", "the computer could not determine {fact}: {why}"
    ),
    "type_mismatch": Text(
        "{fact}: phép {operator} cần kiểu {expected_type}, báo cáo có kiểu {actual_type}",
        "{fact}: {operator} needs a {expected_type}, the report has a {actual_type}",
    ),
    "bad_datetime": Text(
        "{fact}: {actual} không phải thời điểm hợp lệ", "{fact}: {actual} is not a valid time"
    ),
    "os_unknown": Text(
        "không rõ hệ điều hành (quy tắc áp dụng cho {applies_to})",
        "operating system unknown (the rule applies to {applies_to})",
    ),
    "os_not_applicable": Text(
        "quy tắc dành cho {applies_to}, máy chạy {os}", "the rule is for {applies_to}, not {os}"
    ),
    "classification_not_applicable": Text(
        "quy tắc dành cho máy {applies_to}, máy này là {classification}",
        "the rule is for {applies_to} computers, this one is {classification}",
    ),
    "unit_not_applicable": Text(
        "quy tắc chỉ áp dụng cho đơn vị {applies_to}", "the rule only applies to units {applies_to}"
    ),
    "kind_unknown": Text(
        "không rõ loại thiết bị: sổ tài sản chưa ghi loại của máy này (quy tắc dành cho "
        "{applies_to})",
        "device kind unknown: the inventory has no kind for this computer (the rule is for "
        "{applies_to})",
    ),
    "kind_not_applicable": Text(
        "quy tắc dành cho {applies_to}, thiết bị này là {kind}",
        "the rule is for {applies_to}, this device is a {kind}",
    ),
    "tag_not_applicable": Text(
        "quy tắc chỉ áp dụng cho máy có nhãn {applies_to}",
        "the rule only applies to computers tagged {applies_to}",
    ),
    # Findings the controller raises from what the network shows (controller.findings).
    "classified_on_network": Text(
        "máy mật {subject} bị phát hiện trên mạng ({source})",
        "classified computer {subject} seen on the network ({source})",
    ),
    "secret_use_device_on_network": Text(
        "thiết bị dùng cho tài liệu mật {subject} đang kết nối mạng",
        "device for secret documents {subject} is on the network",
    ),
    "unmanaged_devices": Text(
        "{count} thiết bị lạ trên cổng truy cập của switch",
        "{count} unmanaged devices on switch access ports",
    ),
    "printer_supply_low": Text("sắp hết: {supplies}", "running low: {supplies}"),
    "printer_error": Text("máy in báo lỗi: {errors}", "printer reports: {errors}"),
}

_WORDS: dict[str, Text] = {
    "normal": Text("thường", "normal"),
    "classified": Text("mật", "classified"),
    "present": Text("có", "present"),
    "absent": Text("không có", "absent"),
    "nothing": Text("(không có)", "(nothing)"),
    "items": Text("{n} mục", "{n} item(s)"),
    "days_ago": Text("{n} ngày trước", "{n} days ago"),
    "count": Text("số lượng", "count"),
}
_SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "in": "∈",
    "not_in": "∉",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "regex": "~",
}


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def format_value(value: Any, lang: Lang) -> str:
    """A fact's value for people: lists as their size and first few names."""
    if value is None:
        return _WORDS["nothing"].get(lang)
    if isinstance(value, list):
        names = [_label(item) for item in value[:3]]
        more = ", ..." if len(value) > 3 else ""
        head = _WORDS["items"].get(lang).format(n=len(value))
        return f"{head} ({', '.join(names)}{more})" if names else head
    if isinstance(value, dict):
        return _label(value)
    return _scalar(value)


def _label(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("name", "address", "volume", "port", "serial"):
            if key in item:
                return _scalar(item[key])
        return json.dumps(item, ensure_ascii=False, default=str)[:60]
    return _scalar(item)


def format_expected(expected: Any, lang: Lang) -> str:
    """``{lt: {days_ago: 30}}`` → ``< 30 ngày trước``; ``{count: 0}`` → ``số lượng = 0``."""
    if not isinstance(expected, dict):
        return _scalar(expected)
    parts = []
    for op, operand in expected.items():
        if op == "exists":
            parts.append(_WORDS["present" if operand else "absent"].get(lang))
        elif op == "count":
            inner = operand if isinstance(operand, dict) else {"eq": operand}
            parts.append(f"{_WORDS['count'].get(lang)} {format_expected(inner, lang)}")
        elif isinstance(operand, dict) and "days_ago" in operand:
            days = _WORDS["days_ago"].get(lang).format(n=operand["days_ago"])
            parts.append(f"{_SYMBOLS[op]} {days}")
        else:
            parts.append(f"{_SYMBOLS.get(op, op)} {_scalar(operand)}")
    return ", ".join(parts)


def render(reason: Reason, lang: Lang = "vi") -> str:
    """The reason as one sentence in ``lang``; an unknown code shows as itself with its values."""
    template = REASON_TEXT.get(reason.code)
    if template is None:
        return f"{reason.code} {json.dumps(reason.values, ensure_ascii=False, default=str)}"
    values: dict[str, str] = {}
    for key, value in reason.values.items():
        if key == "expected":
            values[key] = format_expected(value, lang)
        elif key == "applies_to" and isinstance(value, list):
            values[key] = ", ".join(_WORDS[v].get(lang) if v in _WORDS else str(v) for v in value)
        elif key == "classification" and value in _WORDS:
            values[key] = _WORDS[value].get(lang)
        else:
            values[key] = format_value(value, lang)
    try:
        return template.get(lang).format(**values)
    except (KeyError, IndexError):
        return f"{template.get(lang)} {values}"


def outcome_text(outcome: str, lang: Lang = "vi") -> str:
    """The outcome's word in ``lang``."""
    text = OUTCOME_TEXT.get(outcome)
    return text.get(lang) if text is not None else outcome
