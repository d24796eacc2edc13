"""A report as an A4 PDF: the print version of the HTML page, laid out by WeasyPrint.

The header (unit, period, generation time, data freshness) and "page X of Y" sit in the page
margins of every page; long tables split across pages and repeat their header row. The text
is set in a font covering Vietnamese, found through fontconfig and embedded (subset) by
WeasyPrint; without such a font the report fails instead of printing boxes.
"""

from __future__ import annotations

from controller.reports.document import Document
from controller.reports.render.fonts import vietnamese_font
from controller.reports.render.html import page


def render(document: Document, lang: str) -> bytes:
    """``document`` as PDF bytes in ``lang``."""
    font = vietnamese_font()
    # Imported here: loading WeasyPrint (Pango, HarfBuzz) takes a moment that the other
    # formats and the CLI's --help should not pay.
    from weasyprint import HTML

    pdf: bytes = HTML(string=page(document, lang, font=font)).write_pdf()
    return pdf
