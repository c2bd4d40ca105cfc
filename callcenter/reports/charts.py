"""Server-side SVG charts (pygal), inlined in the report page and its print view: no
script, no download, the same picture on screen and on paper."""

from __future__ import annotations

from collections.abc import Sequence

import pygal
from pygal.style import CleanStyle


def _config(chart: pygal.Graph, title: str) -> pygal.Graph:
    chart.title = title
    chart.js = []  # no tooltips script fetched from the internet
    chart.disable_xml_declaration = True
    chart.style = CleanStyle
    chart.height = 320
    chart.explicit_size = False
    chart.print_values = False
    return chart


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> str:
    chart = _config(pygal.Bar(x_label_rotation=30, legend_at_bottom=True), title)
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return str(chart.render(is_unicode=True))


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> str:
    chart = _config(pygal.Line(x_label_rotation=30, legend_at_bottom=True), title)
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return str(chart.render(is_unicode=True))
