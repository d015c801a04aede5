"""The charts of the statistics page: SVG drawn by pygal (a kept plotting library).

pygal embeds its style sheets in the SVG; its tooltip script would come from a CDN, so it is
left out (``js=[]``): the charts are static pictures, the tables beside them carry the figures
for screen readers. Withheld counts (``None``) are not drawn.
"""

from __future__ import annotations

import pygal
from pygal.style import Style

__all__ = ["bar_chart"]

_STYLE = Style(
    background="white", plot_background="white", colors=("#1d4ed8",),
    foreground="#1a1a1a", foreground_strong="#1a1a1a", foreground_subtle="#4a4a4a",
    font_family="system-ui, sans-serif", label_font_size=13, major_label_font_size=13,
    value_font_size=13, title_font_size=16,
)  # fmt: skip


def bar_chart(title: str, counts: dict[str, int | None]) -> str | None:
    """A horizontal bar chart of ``counts`` as inline SVG (None when nothing may be drawn)."""
    shown = {key: count for key, count in counts.items() if count is not None}
    if not shown:
        return None
    chart = pygal.HorizontalBar(
        js=[], style=_STYLE, show_legend=False, print_values=True, title=title,
        width=800, height=max(160, 60 + 34 * len(shown)), explicit_size=False,
    )  # fmt: skip
    chart.x_labels = list(shown)
    chart.add(title, list(shown.values()))
    svg: str = chart.render(is_unicode=True, disable_xml_declaration=True)
    return svg
