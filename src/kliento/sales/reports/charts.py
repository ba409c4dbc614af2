"""Server-rendered SVG charts: no JavaScript, no CDN, readable by a screen reader.

Each chart is a `<figure>` holding an `<svg role="img">` with a `<title>` and `<desc>`, a
`<title>` on every bar and point (a tooltip on hover), and an HTML legend. Colours come from
CSS classes (reports.css), so the palette lives in one place.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

_ids = itertools.count(1)


@dataclass
class Series:
    label: str
    values: list
    css: str = "s1"
    links: list = field(default_factory=list)


def compact(value) -> str:
    """1234567 → "1.2M" (localised), for axis ticks."""
    value = float(value or 0)
    size = abs(value)
    for limit, suffix in ((1e9, _("B")), (1e6, _("M")), (1e3, _("K"))):
        if size >= limit:
            scaled = value / limit
            digits = 0 if abs(scaled) >= 100 or scaled == int(scaled) else 1
            return f"{number_format(round(scaled, digits), digits)}{suffix}"
    return number_format(round(value), 0)


def full(value, digits: int = 2) -> str:
    """A number rounded half up to `digits` (Django's number_format alone would truncate)."""
    if value is None:
        return "—"
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return number_format(exact, digits, force_grouping=True)


def _nice_step(top: float, ticks: int = 4) -> float:
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _legend(series: list[Series], line: Series | None) -> str:
    items = [
        format_html('<li><span class="swatch {}"></span>{}</li>', s.css, s.label) for s in series
    ]
    if line is not None:
        items.append(
            format_html('<li><span class="swatch line {}"></span>{}</li>', line.css, line.label)
        )
    return '<ul class="chart-legend">' + "".join(items) + "</ul>"


def _missing_legend() -> str:
    return format_html(
        '<ul class="chart-legend"><li><span aria-hidden="true">—</span>{}</li></ul>', _("No data")
    )


def _frame(title: str, desc: str, width: int, height: int, body: str, legend: str) -> SafeString:
    n = next(_ids)
    return mark_safe(
        f'<figure class="chart">'
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-t{n} chart-d{n}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="chart-t{n}">{escape(title)}</title>'
        f'<desc id="chart-d{n}">{escape(desc)}</desc>{body}</svg>{legend}</figure>'
    )


def column_chart(
    *,
    title: str,
    desc: str,
    categories: list[str],
    series: list[Series],
    line: Series | None = None,
    digits: int = 2,
    width: int = 860,
    height: int = 300,
) -> SafeString:
    """Stacked columns per category, with an optional line on the same axis."""
    left, right, top, bottom = 64, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    stacks = [sum(float(s.values[i] or 0) for s in series) for i in range(len(categories))]
    peak = max([*stacks, *(float(v or 0) for v in (line.values if line else []))], default=0)
    step = _nice_step(peak)
    axis_top = step * max(1, math.ceil(peak / step)) if peak > 0 else step * 4
    scale = plot_h / axis_top
    parts = []
    tick = 0.0
    while tick <= axis_top + 1e-9:
        y = top + plot_h - tick * scale
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(compact(tick))}</text>"
        )
        tick += step
    count = max(1, len(categories))
    slot = plot_w / count
    bar_w = min(56.0, slot * 0.62)
    centres = []
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        centres.append(left + slot * i + slot / 2)
        base = top + plot_h
        for s in series:
            value = float(s.values[i] or 0)
            if value <= 0:
                continue
            h = value * scale
            base -= h
            rect = (
                f'<rect class="bar {s.css}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{max(h, 0.5):.1f}" rx="2"><title>{escape(category)} · '
                f"{escape(s.label)}: {escape(full(s.values[i], digits))}</title></rect>"
            )
            link = s.links[i] if i < len(s.links) else None
            parts.append(f'<a href="{escape(link)}">{rect}</a>' if link else rect)
        parts.append(
            f'<text class="label" x="{centres[-1]:.1f}" y="{height - bottom + 18}" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    if line is not None and categories:
        # A missing value (None) breaks the line: it is not a point at 0.
        points = [
            None
            if line.values[i] is None
            else (centres[i], top + plot_h - float(line.values[i]) * scale)
            for i in range(len(categories))
        ]
        runs = [
            list(run)
            for present, run in itertools.groupby(points, key=lambda p: p is not None)
            if present
        ]
        for run in runs:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline class="line {line.css}" points="{path}"/>')
        for i, point in enumerate(points):
            if point is None:
                continue
            x, y = point
            parts.append(
                f'<circle class="dot {line.css}" cx="{x:.1f}" cy="{y:.1f}" r="4">'
                f"<title>{escape(categories[i])} · {escape(line.label)}: "
                f"{escape(full(line.values[i], digits))}</title></circle>"
            )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/>'
    )
    return _frame(title, desc, width, height, "".join(parts), _legend(series, line))


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: list[str],
    series: list[Series],
    digits: int = 0,
    suffix: str = "",
    width: int = 860,
    label_width: int = 200,
) -> SafeString:
    """Horizontal stacked bars, one per label, with the row's total at the end.

    A row whose values are all None has no data: it gets no bar and a dash, like the report's
    table, never a bar of 0 that reads as "zero days".
    """
    row_h, gap, top = 22, 10, 8
    right = 90
    height = top * 2 + max(1, len(labels)) * (row_h + gap)
    plot_w = width - label_width - right
    totals = [
        None
        if all(s.values[i] is None for s in series)
        else sum(Decimal(str(s.values[i] or 0)) for s in series)
        for i in range(len(labels))
    ]
    peak = float(max((t for t in totals if t is not None), default=0)) or 1.0
    parts = []
    for i, label in enumerate(labels):
        y = top + i * (row_h + gap)
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text class="label" x="{label_width - 10}" y="{y + row_h / 2 + 4:.1f}" '
            f'text-anchor="end"><title>{escape(label)}</title>{escape(short)}</text>'
        )
        if totals[i] is None:
            no_data = escape(_("no data"))
            parts.append(
                f'<text class="tick missing" x="{label_width + 6}" y="{y + row_h / 2 + 4:.1f}">'
                f"<title>{escape(label)}: {no_data}</title>—</text>"
            )
            continue
        x = float(label_width)
        for s in series:
            value = float(s.values[i] or 0)
            if value <= 0:
                continue
            w = value / peak * plot_w
            rect = (
                f'<rect class="bar {s.css}" x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" '
                f'height="{row_h}" rx="2"><title>{escape(label)} · {escape(s.label)}: '
                f"{escape(full(s.values[i], digits))}{escape(suffix)}</title></rect>"
            )
            link = s.links[i] if i < len(s.links) else None
            parts.append(f'<a href="{escape(link)}">{rect}</a>' if link else rect)
            x += w
        parts.append(
            f'<text class="value" x="{x + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">'
            f"{escape(full(totals[i], digits))}{escape(suffix)}</text>"
        )
    legend = _legend(series, None) if len(series) > 1 else ""
    if None in totals:
        desc = " ".join([desc, _("A dash marks a row with no data.")]).strip()
        legend += _missing_legend()
    return _frame(title, desc, width, height, "".join(parts), legend)
