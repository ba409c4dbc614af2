"""The quote as a PDF a customer would sign: fpdf2 (pure Python) with the Roboto fonts from the
`font-roboto` package, so Cyrillic prints without any system package.

Labels are translated into the quote's language; amounts and dates are formatted for it.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from decimal import Decimal

import font_roboto
from django.utils import formats, translation
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kliento.core.models import OrgSettings
from kliento.sales.catalog.money import format_amount, format_quantity
from kliento.sales.quotes.models import DiscountKind, Quote

FONT_DIR = os.path.join(os.path.dirname(font_roboto.__file__), "files")
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (37, 99, 235)
RULE = (222, 226, 230)
ZEBRA = (246, 248, 250)


# Latin, Latin-1/Extended-A/B, Cyrillic, general punctuation, №, €, ₽, ™.
_UNICODES = [
    *range(0x20, 0x250),
    *range(0x400, 0x460),
    *range(0x2000, 0x2070),
    0x2116,
    0x20AC,
    0x20BD,
    0x2122,
    0x2212,
]


@functools.cache
def _fonts() -> dict[str, str]:
    """Roboto cut down to the characters a quote prints, once per process and machine.

    Parsing and subsetting the full fonts takes most of a render (~400 ms); the cut-down
    files (~50 KB) bring a page to well under 100 ms.
    """
    from fontTools import subset

    folder = os.path.join(tempfile.gettempdir(), "kliento-fonts-2")
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for style, name in (("", "Roboto-Regular"), ("B", "Roboto-Bold")):
        target = os.path.join(folder, f"{name}.ttf")
        if not os.path.exists(target):
            options = subset.Options()
            options.layout_features = []
            options.hinting = False
            options.name_IDs = ["*"]
            options.notdef_outline = True
            font = subset.load_font(os.path.join(FONT_DIR, f"{name}.ttf"), options)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=_UNICODES)
            subsetter.subset(font)
            handle, partial = tempfile.mkstemp(dir=folder, suffix=".ttf")
            os.close(handle)
            subset.save_font(font, partial, options)
            os.replace(partial, target)
        paths[style] = target
    return paths


def format_percent(value: Decimal, language: str) -> str:
    return format_quantity(value, language) + "%"


def format_day(day, language: str) -> str:
    if day is None:
        return ""
    with translation.override(language):
        return formats.date_format(day, "DATE_FORMAT")


def quote_pdf_filename(quote: Quote) -> str:
    return f"{quote.number}-v{quote.revision}.pdf"


class _QuotePDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Roboto", size=7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")


def _line_discount_text(line, language: str, currency: str) -> str:
    if not line.discount_amount:
        return "—"
    if line.discount_kind == DiscountKind.PERCENT and not line.quote.discount_kind:
        return format_percent(line.discount_value, language)
    return format_amount(line.discount_amount, language)


def render_quote_pdf(quote: Quote) -> bytes:
    with translation.override(quote.language or "en"):
        return _render(quote)


def _render(quote: Quote) -> bytes:
    lang = quote.language or "en"
    org = OrgSettings.get()
    lines = list(quote.lines.order_by("position", "id"))
    for line in lines:
        line.quote = quote
    cur = quote.currency

    pdf = _QuotePDF(format="A4", unit="mm")
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(True, margin=18)
    fonts = _fonts()
    pdf.add_font("Roboto", "", fonts[""])
    pdf.add_font("Roboto", "B", fonts["B"])
    pdf.set_title(f"{_('Commercial proposal')} {quote.number}")
    pdf.set_author(org.company_name)
    pdf.set_creator("Kliento")
    pdf.footer_text = _("Commercial proposal %(number)s, version %(revision)s") % {
        "number": quote.number,
        "revision": quote.revision,
    }
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    # --- the company block: logo left, details right ---
    top = pdf.get_y()
    logo_bottom = top
    if org.logo:
        try:
            pdf.image(
                io.BytesIO(bytes(org.logo)), x=pdf.l_margin, y=top, h=18, keep_aspect_ratio=True
            )
            logo_bottom = top + 18
        except Exception:  # noqa: BLE001 - a broken logo must not stop the document
            logo_bottom = top
    details = [
        org.legal_name,
        (_("Tax ID: %(id)s") % {"id": org.tax_id}) if org.tax_id else "",
        org.address.replace("\n", ", ") if org.address else "",
        " · ".join(x for x in (org.phone, org.email, org.website) if x),
    ]
    block_x = pdf.l_margin + width * 0.42
    block_w = width * 0.58
    pdf.set_xy(block_x, top)
    pdf.set_text_color(*INK)
    pdf.set_font("Roboto", "B", 13)
    pdf.multi_cell(block_w, 6, org.company_name, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font("Roboto", size=8.5)
    pdf.set_text_color(*MUTED)
    for text in details:
        if text:
            pdf.set_x(block_x)
            pdf.multi_cell(block_w, 4.2, text, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    y = max(pdf.get_y(), logo_bottom) + 4
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    pdf.set_y(y + 6)

    # --- the title ---
    pdf.set_text_color(*INK)
    pdf.set_font("Roboto", "B", 18)
    pdf.cell(0, 9, _("Commercial proposal"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Roboto", size=10)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        6,
        _("No. %(number)s · version %(revision)s · %(day)s")
        % {
            "number": quote.number,
            "revision": quote.revision,
            "day": format_day(quote.issued_on, lang),
        },
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)

    # --- customer and conditions, in two columns ---
    col = width / 2
    start = pdf.get_y()
    customer = []
    if quote.company_id:
        customer.append(quote.company.legal_name or quote.company.name)
        if quote.company.tax_id:
            customer.append(_("Tax ID: %(id)s") % {"id": quote.company.tax_id})
        if quote.company.address:
            customer.append(quote.company.address)
    if quote.contact_id:
        customer.append(quote.contact.full_name)
    _label(pdf, _("Prepared for"), pdf.l_margin, start, col)
    pdf.set_font("Roboto", size=10)
    pdf.set_text_color(*INK)
    for text in customer or ["—"]:
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(col - 4, 5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_end = pdf.get_y()
    right = pdf.l_margin + col
    _label(pdf, _("Offer details"), right, start, col)
    owner = quote.owner
    facts = [
        (_("Valid until"), format_day(quote.valid_until, lang) or "—"),
        (_("Currency"), cur),
        (_("Prepared by"), owner.display_name),
    ]
    if owner.email:
        facts.append((_("Email"), owner.email))
    for name, value in facts:
        pdf.set_x(right)
        pdf.set_font("Roboto", size=9)
        pdf.set_text_color(*MUTED)
        pdf.cell(32, 5, name)
        pdf.set_font("Roboto", size=10)
        pdf.set_text_color(*INK)
        pdf.multi_cell(col - 32, 5, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_end, pdf.get_y()) + 6)

    # --- the lines ---
    headers = [
        _("№"),
        _("Description"),
        _("Qty"),
        _("Unit"),
        _("Price"),
        _("Discount"),
        _("Tax"),
        _("Net amount"),
    ]
    widths = (8, 62, 14, 12, 23, 19, 12, 28)
    scale = width / sum(widths)
    widths = tuple(w * scale for w in widths)
    aligns = ("C", "L", "R", "C", "R", "R", "R", "R")
    rows = [
        [
            str(number),
            line.description,
            format_quantity(line.quantity, lang),
            line.unit,
            format_amount(line.price, lang),
            _line_discount_text(line, lang, cur),
            format_percent(line.tax_rate, lang),
            format_amount(line.net, lang),
        ]
        for number, line in enumerate(lines, start=1)
    ]
    _lines_table(pdf, headers, rows, widths, aligns)
    if not lines:
        pdf.set_font("Roboto", size=9)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 8, _("No lines yet."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    # --- totals ---
    rows = [(_("Subtotal"), quote.subtotal, "")]
    if quote.discount_total:
        rows.append((_("Discount"), quote.discount_total, "\u2212"))
        rows.append((_("Net amount"), quote.subtotal - quote.discount_total, ""))
    rows.append((_("Tax"), quote.tax_total, ""))
    box_w = width * 0.45
    box_x = pdf.l_margin + width - box_w
    if pdf.get_y() + 8 * (len(rows) + 1) > pdf.h - 20:
        pdf.add_page()
    for name, value, sign in rows:
        pdf.set_x(box_x)
        pdf.set_font("Roboto", size=9.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(box_w * 0.55, 6, name)
        pdf.set_text_color(*INK)
        pdf.cell(
            box_w * 0.45,
            6,
            f"{sign}{format_amount(value, lang)} {cur}",
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    y = pdf.get_y() + 1
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.4)
    pdf.line(box_x, y, box_x + box_w, y)
    pdf.set_y(y + 1.5)
    pdf.set_x(box_x)
    pdf.set_font("Roboto", "B", 12)
    pdf.cell(box_w * 0.45, 8, _("Total"))
    pdf.cell(
        box_w * 0.55,
        8,
        f"{format_amount(quote.total, lang)} {cur}",
        align="R",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(6)

    # --- validity, terms, bank details ---
    pdf.set_text_color(*INK)
    pdf.set_font("Roboto", size=9.5)
    if quote.valid_until:
        pdf.multi_cell(
            0,
            5,
            # "… до 23 декабря 2026 г.." — a date ending in a period also ends the sentence.
            (
                _("This proposal is valid until %(day)s.")
                % {"day": format_day(quote.valid_until, lang)}
            ).replace("..", "."),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(2)
    for title, text in ((_("Terms"), quote.terms), (_("Bank details"), org.bank_details)):
        if text:
            _label(pdf, title, pdf.l_margin, pdf.get_y(), width)
            pdf.set_font("Roboto", size=9)
            pdf.set_text_color(*INK)
            pdf.multi_cell(0, 4.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)

    # --- signatures ---
    if pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.ln(8)
    y = pdf.get_y()
    half = (width - 12) / 2
    for i, (who, name) in enumerate(
        (
            (_("For the supplier"), org.legal_name or org.company_name),
            (
                _("For the customer"),
                (quote.company.legal_name or quote.company.name) if quote.company_id else "",
            ),
        )
    ):
        x = pdf.l_margin + i * (half + 12)
        pdf.set_xy(x, y)
        pdf.set_font("Roboto", "B", 9)
        pdf.set_text_color(*INK)
        pdf.cell(half, 5, who, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("Roboto", size=8.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(half, 5, name, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_draw_color(*MUTED)
        pdf.set_line_width(0.2)
        pdf.line(x, y + 22, x + half, y + 22)
        pdf.set_xy(x, y + 23)
        pdf.cell(half * 0.6, 4, _("signature, name"))
        pdf.cell(half * 0.4, 4, _("date"), align="R")
    return bytes(pdf.output())


def _label(pdf: FPDF, text: str, x: float, y: float, w: float) -> None:
    pdf.set_xy(x, y)
    pdf.set_font("Roboto", "B", 7.5)
    pdf.set_text_color(*ACCENT)
    pdf.cell(w, 5, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(x)


LINE_H = 4.4
PAD = 1.5


def _table_head(pdf: FPDF, headers, widths, aligns) -> None:
    pdf.set_font("Roboto", "B", 8.5)
    pdf.set_fill_color(*INK)
    pdf.set_text_color(255, 255, 255)
    x = pdf.l_margin
    y = pdf.get_y()
    for text, w, align in zip(headers, widths, aligns, strict=True):
        pdf.set_xy(x, y)
        pdf.cell(w, 7.5, "", fill=True)
        pdf.set_xy(x + PAD, y)
        pdf.cell(w - 2 * PAD, 7.5, text, align=align)
        x += w
    pdf.set_xy(pdf.l_margin, y + 7.5)


def _lines_table(pdf: FPDF, headers, rows, widths, aligns) -> None:
    """The lines table, drawn cell by cell: only descriptions wrap, so only they are measured
    (fpdf2's generic table measures every cell twice and took most of the render time)."""
    _table_head(pdf, headers, widths, aligns)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    bottom = pdf.h - pdf.b_margin
    total_w = sum(widths)
    for index, row in enumerate(rows):
        pdf.set_font("Roboto", size=8.5)
        wrapped = pdf.multi_cell(widths[1] - 2 * PAD, LINE_H, row[1], dry_run=True, output="LINES")
        height = max(1, len(wrapped)) * LINE_H + 2 * PAD + 0.6
        if pdf.get_y() + height > bottom:
            pdf.add_page()
            _table_head(pdf, headers, widths, aligns)
            pdf.set_font("Roboto", size=8.5)
        y = pdf.get_y()
        if index % 2:
            pdf.set_fill_color(*ZEBRA)
            pdf.rect(pdf.l_margin, y, total_w, height, style="F")
        pdf.set_text_color(*INK)
        x = pdf.l_margin
        for col, (text, w, align) in enumerate(zip(row, widths, aligns, strict=True)):
            if col == 1:
                pdf.set_xy(x + PAD, y + PAD + 0.3)
                pdf.multi_cell(w - 2 * PAD, LINE_H, text, align="L")
            else:
                pdf.set_xy(x + PAD, y)
                pdf.cell(w - 2 * PAD, height, text, align=align)
            x += w
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + total_w, y + height)
        pdf.set_xy(pdf.l_margin, y + height)
