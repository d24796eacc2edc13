"""E-mails carrying a report: the file as its own MIME part, a Vietnamese file name intact."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from controller.notify.config import SmtpConfig
from controller.notify.content import Attachment
from controller.notify.mail import build

SMTP = SmtpConfig(host="127.0.0.1", port=587, from_address="govguard@phudo.gov.vn")


def parsed(message: EmailMessage) -> EmailMessage:
    """What a receiving mail program reads: the bytes sent, parsed again."""
    raw = message.as_bytes(policy=policy.SMTP)
    back = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(back, EmailMessage)
    return back


def test_attachments_keep_their_type_and_vietnamese_name() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256))
    sheet = "Đơn vị,Số máy\nxã An Bình,2\n".encode("utf-8-sig")
    message = build(
        SMTP,
        "vanthu@anbinh.gov.vn",
        "[govguard] Báo cáo định kỳ: Mức độ sẵn sàng hạ tầng chính quyền điện tử — UBND huyện "
        "Phù Đô — kỳ 2026-Q4",
        "Đính kèm là báo cáo.",
        key="report-schedule:1:2026-Q4|email|vanthu@anbinh.gov.vn",
        attachments=[
            Attachment("Báo cáo quý 4 – Phù Đô.pdf", "application/pdf", pdf),
            Attachment("so-may.csv", "text/csv; charset=utf-8", sheet),
        ],
    )

    back = parsed(message)
    body = back.get_body(("plain",))
    files = list(back.iter_attachments())

    assert back["Subject"] == (
        "[govguard] Báo cáo định kỳ: Mức độ sẵn sàng hạ tầng chính quyền điện tử — UBND huyện "
        "Phù Đô — kỳ 2026-Q4"
    )
    assert body is not None and body.get_content().strip() == "Đính kèm là báo cáo."
    assert [f.get_filename() for f in files] == ["Báo cáo quý 4 – Phù Đô.pdf", "so-may.csv"]
    assert [f.get_content_type() for f in files] == ["application/pdf", "text/csv"]
    assert files[1].get_param("charset") == "utf-8"
    assert [f.get_content() for f in files] == [pdf, sheet.decode("utf-8")]
    # The name travels encoded (RFC 2231), so no raw 8-bit byte is in the headers.
    raw = message.as_bytes(policy=policy.SMTP)
    assert b"filename*0*=utf-8''B%C3%A1o%20c%C3%A1o" in raw


def test_a_message_without_attachments_stays_plain_text() -> None:
    message = build(SMTP, "cntt@phudo.gov.vn", "[govguard] test", "nội dung", key="k")

    back = parsed(message)

    assert back.get_content_type() == "text/plain"
    assert back["Subject"] == "[govguard] test"
