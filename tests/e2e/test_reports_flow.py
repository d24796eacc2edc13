"""The Reports page in headless chromium, in Vietnamese: make an XLSX report of a commune and
open it, then read the same report as HTML in the browser.

The page's trap fails the test on any console error, so a style or script of the HTML report
refused by the Content-Security-Policy (chromium logs every violation) fails it too.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.browser import login, shot
from tests.e2e.world import ADMIN, COMMUNE_A, World

pytestmark = pytest.mark.integration


def test_reports_in_vietnamese(page: Page, world: World, tmp_path: Path) -> None:
    login(page, world, ADMIN)
    page.click('nav a[href="/reports"]')
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Báo cáo")
    form = page.locator("#make-report")
    report = form.locator("select[name=report] option").first.get_attribute("value")
    assert report
    form.locator("select[name=unit]").select_option(COMMUNE_A)
    form.locator("input[name=period]").fill("2026-Q4")
    form.locator("select[name=format]").select_option("xlsx")
    shot(page, "vi-reports")

    with page.expect_download() as waiting:
        form.locator("button[type=submit]").click()
    download = waiting.value
    # chromium takes the readable name (RFC 5987 filename*): title, unit and period.
    name = download.suggested_filename
    assert name.endswith(" - 2026-Q4.xlsx") and "Yên Đĩnh" in name, name
    saved = tmp_path / "report.xlsx"
    download.save_as(saved)
    content = saved.read_bytes()
    assert content.startswith(b"PK\x03\x04")
    book = load_workbook(io.BytesIO(content))
    assert book.worksheets, "the workbook has no sheet"
    # The archive lists it with the start of the file's SHA-256.
    page.reload()
    newest = page.locator("#report-archive tbody tr").first
    expect(newest.locator("code")).to_have_text(hashlib.sha256(content).hexdigest()[:12])

    # The same report as HTML, shown in the browser (the CSP must let its styles apply).
    form.locator("select[name=unit]").select_option(COMMUNE_A)
    form.locator("select[name=format]").select_option("html")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "/reports/generate?" in page.url
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1").first).to_be_visible()
    # The report's own stylesheet applied (its header cells have a background): the CSP let
    # it in by its hash, and the trap saw no refusal in the console.
    background = page.evaluate(
        "getComputedStyle(document.querySelector('thead th')).backgroundColor"
    )
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
    shot(page, "vi-report-html")
