"""The agent's few human-facing texts in Vietnamese (the default) and English.

Only ``once --summary``, ``status`` and the outcome lines of ``enroll`` and ``run`` speak to
people; the report itself is data, and error messages stay English (they are searched for).
Texts are written in English in the code and looked up here by that English text, gettext-style; a
contract test runs every collector's summary with :func:`strict` so that a text missing from the
catalogue fails the build. Product names, host names and reasons taken from the report are data
and are shown as they are.
"""

from collections.abc import Callable
from typing import Literal

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"

#: Translates one English text (a label, a word or a str.format template).
Translate = Callable[[str], str]

VI: dict[str, str] = {
    # summary labels
    "Host": "Tên máy",
    "Serial": "Số sê-ri",
    "MACs": "Địa chỉ MAC",
    "Computer": "Máy tính",
    "CPU / RAM": "CPU / RAM",
    "Disks": "Ổ đĩa",
    "OS": "Hệ điều hành",
    "OS supported": "Còn được hỗ trợ",
    "Packages": "Gói phần mềm",
    "Services running": "Dịch vụ đang chạy",
    "Autostart entries": "Mục tự khởi động",
    "Vietnamese text": "Tiếng Việt (phông, bộ gõ)",
    "Interfaces up": "Card mạng hoạt động",
    "Gateways": "Cổng mặc định",
    "Radios": "Thiết bị không dây",
    "Saved networks": "Mạng đã lưu",
    "Internet": "Internet",
    "LAN": "Mạng LAN",
    "Default route": "Tuyến mặc định",
    "Firewall": "Tường lửa",
    "Anti-malware": "Phòng chống mã độc",
    "Updates pending": "Bản cập nhật chờ cài",
    "Remote tools": "Phần mềm điều khiển từ xa",
    "Printers": "Máy in",
    "Signing tokens": "Thiết bị ký số (token)",
    "Signing certificates": "Chứng thư số",
    "Signing middleware": "Phần mềm hỗ trợ ký số",
    "Collectors": "Bộ thu thập",
    "failed": "lỗi",
    # govguard-agent status
    "never": "chưa có",
    "Agent": "Mã máy (agent)",
    "Controller": "Máy chủ quản lý",
    "Enrollment": "Đăng ký",
    "Last delivery": "Gửi thành công gần nhất",
    "Last inventory": "Kiểm kê đầy đủ gần nhất",
    "Queue": "Hàng đợi",
    "Dropped": "Đã bỏ",
    "Last error": "Lỗi gần nhất",
    "{agent} (key {key})": "{agent} (khóa {key})",
    "{status} since {when}": "{status} từ {when}",
    "active": "đang hoạt động",
    "pending": "chờ phê duyệt",
    "{queued} reports ({full} full), {size} bytes": (
        "{queued} báo cáo ({full} kiểm kê đầy đủ), {size} byte"
    ),
    ", next attempt {when}": ", lần gửi tiếp theo {when}",
    "Outbox": "Hàng đợi gửi",
    "cannot be read: {error}": "không đọc được: {error}",
    "Corrupt outbox": "Tệp hàng đợi hỏng",
    "{path} (moved aside; its reports were not sent)": (
        "{path} (đã được tách riêng; các báo cáo trong đó chưa được gửi)"
    ),
    "{hb} heartbeats, {full} full inventories, {rejected} refused by the controller": (
        "{hb} báo cáo định kỳ, {full} kiểm kê đầy đủ, {rejected} bị máy chủ từ chối"
    ),
    # govguard-agent enroll and run
    "enrolled: this computer is agent {agent} of {controller}": (
        "đã đăng ký: máy tính này là agent {agent} của {controller}"
    ),
    (
        "pending: enrolled as agent {agent}, but this computer was enrolled before with another "
        "key: an administrator must approve it on the controller (govguard agents approve {agent})"
    ): (
        "chờ phê duyệt: đã đăng ký là agent {agent}, nhưng máy tính này đã đăng ký trước đây với "
        "khóa khác: quản trị viên cần phê duyệt trên máy chủ quản lý "
        "(govguard agents approve {agent})"
    ),
    "kept the previous identity's files in {dir}: {files}": (
        "đã giữ lại các tệp của lần đăng ký trước trong {dir}: {files}"
    ),
    (
        "reports still queued under the previous identity, if any, will not be sent; "
        "they stay in {path}"
    ): (
        "các báo cáo còn chờ gửi theo lần đăng ký trước (nếu có) sẽ không được gửi; "
        "chúng được giữ trong {path}"
    ),
    ("{count} reports queued under the previous identity will not be sent; they stay in {path}"): (
        "{count} báo cáo chờ gửi theo lần đăng ký trước sẽ không được gửi; "
        "chúng được giữ trong {path}"
    ),
    "no report was waiting to be sent under the previous identity": (
        "không có báo cáo nào chờ gửi theo lần đăng ký trước"
    ),
    "queued {kind} #{seq}": "đã xếp hàng báo cáo {kind} #{seq}",
    "nothing queued": "không có báo cáo mới",
    "{queued}; delivered {sent}, waiting {waiting}": "{queued}; đã gửi {sent}, đang chờ {waiting}",
    "; error: {error}": "; lỗi: {error}",
    "full": "đầy đủ",
    "heartbeat": "định kỳ",
    # values
    "unknown": "không rõ",
    "none": "không có",
    "NONE": "KHÔNG CÓ",
    "NONE FOUND": "KHÔNG TÌM THẤY",
    "yes": "có",
    "NO": "KHÔNG",
    "on": "bật",
    "OFF": "TẮT",
    "unknown type": "không rõ loại",
    "unknown CPU": "không rõ CPU",
    "unknown model": "không rõ kiểu máy",
    "no input method": "không có bộ gõ",
    "NO Times New Roman": "KHÔNG có Times New Roman",
    "all disabled": "đều tắt",
    "other CA": "CA khác",
    "listening": "đang mở",
    "closed": "đóng",
    # templates (str.format)
    ", {age} years old": ", {age} năm tuổi",
    " (build {build})": " (bản dựng {build})",
    "unknown: {why}": "không rõ: {why}",
    "yes, until {date}": "có, đến {date}",
    "NO, ended {date}": "KHÔNG, đã hết từ {date}",
    ", legacy fonts: {fonts}": ", phông cũ: {fonts}",
    "{running} of {total}": "{running}/{total}",
    "{state} ({ok}/{total} targets, DNS {dns})": "{state} ({ok}/{total} địa chỉ, DNS {dns})",
    "{days} days left": "còn {days} ngày",
    # offline enrollment and bundles
    "enrolled offline: this computer is agent {agent}; export its reports with "
    "`govguard-agent export --to DIR`": (
        "đã đăng ký ngoại tuyến: máy này là agent {agent}; xuất báo cáo bằng "
        "`govguard-agent export --to DIR`"
    ),
    "request written to {path}: carry it to the controller": (
        "đã ghi yêu cầu vào {path}: mang tệp này đến máy chủ quản lý"
    ),
    "host {host}, key {key}": "máy {host}, khóa {key}",
    "key fingerprint (compare it aloud with the controller's):": (
        "dấu vân tay của khóa (đọc to để đối chiếu với máy chủ quản lý):"
    ),
    "none: offline, reports by USB bundles": "không có: máy ngoại tuyến, báo cáo bằng gói USB",
    "Last bundle": "Gói gần nhất",
    "number {seq}, SHA-256 {digest}": "số {seq}, SHA-256 {digest}",
    "This bundle leaves the room with:": "Gói dữ liệu mang ra khỏi phòng gồm:",
    "Bundle": "Gói",
    "Number": "Số thứ tự",
    "Sections": "Các phần",
    "Report": "Báo cáo",
    "{size} bytes compressed": "{size} byte đã nén",
    "Bundle size": "Kích thước gói",
    "{size} bytes": "{size} byte",
    "SHA-256": "SHA-256",
    "note: an earlier bundle number was never written (interrupted export); "
    "the controller will report a gap": (
        "lưu ý: một số thứ tự gói trước đó chưa từng được ghi (lần xuất bị gián đoạn); "
        "máy chủ quản lý sẽ báo thiếu gói"
    ),
    "{run} run, {failed} failed, {unknown} facts unknown": (
        "{run} đã chạy, {failed} lỗi, {unknown} thông tin không rõ"
    ),
}


def english(text: str) -> str:
    """The English text as written in the code."""
    return text


def vietnamese(text: str) -> str:
    """The Vietnamese text; the English one if the catalogue lacks it (a test forbids that)."""
    return VI.get(text, text)


def translator(lang: Lang) -> Translate:
    """The translator for a language."""
    return vietnamese if lang == "vi" else english


def strict(text: str) -> str:
    """Like :func:`vietnamese`, but a text missing from the catalogue raises KeyError (tests)."""
    return VI[text]
