"""``govguard import BUNDLE`` and the texts of ``govguard agents accept-offline``.

Both serve computers that are never on a network (docs/bundles.md); officers read the output,
so it is in Vietnamese by default and English with ``--lang en``.
"""

from __future__ import annotations

import argparse
import sys

from controller.bundles import BundleLimits, BundleRefused, import_bundle, quarantine
from controller.bundles.store import bundle_writer
from controller.commands.common import CliError, actor, data_dir, now, open_store, settings

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "imported": "đã nhập gói {seq} của máy {host} (agent {agent}): {reports} báo cáo",
        "already": "gói {seq} của máy {host} (agent {agent}) đã được nhập trước đây; không ghi gì",
        "gap": "CẢNH BÁO: thiếu {gap} gói trước gói {seq} (từ số {first}); đã ghi nhận",
        "chain": "CẢNH BÁO: gói {seq} không nối tiếp gói trước đã nhập (mã băm khác); đã ghi nhận",
        "refused": "từ chối gói {file}: {reason}",
        "kept": "đã lưu bản sao để kiểm tra: {path}",
        "request": "Yêu cầu đăng ký ngoại tuyến",
        "host": "Tên máy",
        "identity": "Định danh phần cứng",
        "key": "Khóa",
        "fingerprint": "Dấu vân tay",
        "unit": "Đơn vị",
        "confirm": "Dấu vân tay có khớp với số hiển thị trên máy tính không? [y/N] ",
        "no": "không chấp nhận; không ghi gì",
        "accepted": "đã chấp nhận: máy {host} là agent {agent} (ngoại tuyến) của đơn vị {unit}",
        "again": "khóa này đã được chấp nhận trước đây: agent {agent}; ghi lại tệp trả lời",
        "revoked": "đã thu hồi agent {agent} cùng máy ({host})",
        "response": "tệp trả lời: {path} (mang về máy tính: govguard-agent enroll --offline "
        "--accept {name})",
    },
    "en": {
        "imported": "imported bundle {seq} of {host} (agent {agent}): {reports} report(s)",
        "already": "bundle {seq} of {host} (agent {agent}) was already imported; nothing written",
        "gap": "WARNING: {gap} bundle(s) missing before bundle {seq} (from number {first}); "
        "recorded",
        "chain": "WARNING: bundle {seq} does not follow the bundle imported before it (other "
        "digest); recorded",
        "refused": "refused bundle {file}: {reason}",
        "kept": "a copy is kept for inspection: {path}",
        "request": "Offline enrollment request",
        "host": "Host name",
        "identity": "Hardware identity",
        "key": "Key",
        "fingerprint": "Fingerprint",
        "unit": "Unit",
        "confirm": "Does the fingerprint match the one shown on the computer? [y/N] ",
        "no": "not accepted; nothing written",
        "accepted": "accepted: {host} is agent {agent} (offline) of unit {unit}",
        "again": "this key was accepted before as agent {agent}; the response is written again",
        "revoked": "revoked agent {agent} of the same computer ({host})",
        "response": "response file: {path} (carry it back: govguard-agent enroll --offline "
        "--accept {name})",
    },
}


def import_(args: argparse.Namespace) -> int:
    """Import one bundle file; a refused one is quarantined and the command exits 1."""
    text = TEXT[args.lang]
    if not args.bundle.is_file():
        raise CliError(f"{args.bundle}: no such file")
    current = settings(args)
    limits = BundleLimits(
        max_file_bytes=args.max_size,
        max_body_bytes=current.ingest.max_body_bytes,
        max_decompressed_bytes=current.ingest.max_decompressed_bytes,
    )
    writer = bundle_writer(current)
    at = now()
    try:
        with open_store(current) as session:
            done = import_bundle(session, args.bundle, limits, writer, at, actor())
    except BundleRefused as exc:
        reason = str(exc)
        kept = quarantine(data_dir(args), args.bundle, reason, at, limits)
        print(text["kept"].format(path=kept), file=sys.stderr)
        raise CliError(text["refused"].format(file=args.bundle.name, reason=reason)) from exc
    agent, seq = done.verified.agent, done.verified.manifest.seq
    names = {"seq": seq, "host": agent.hostname, "agent": agent.id}
    if not done.stored:
        print(text["already"].format(**names))
        return 0
    print(text["imported"].format(reports=len(done.verified.reports), **names))
    if done.gap:
        print(text["gap"].format(gap=done.gap, seq=seq, first=seq - done.gap))
    if done.broken_chain:
        print(text["chain"].format(seq=seq))
    return 0
