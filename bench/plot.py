"""The benchmark plot: an SVG written from results.json, without a plotting library.

Five panels: P1's whole `cdk synth` of the README's first example (each alternating pair's
ratio of this construct to the `AwsCustomResource` equivalent, wall time and peak memory, the
median and the target), P1's in-process synth time and template size against N (both sides),
the burst/fan-out makespans against their ideal, and P6's StageMirror makespans as ratios to
their ideal with the target (its create takes a minute, its fan-out seconds: one axis of
seconds would flatten the fan-out).
`python -m bench.plot [results.json] [out.svg]`; `make bench` writes ``benchmarks.svg`` at the
repository's top, which the guide's Benchmarks page shows.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.common import REPO

RESULTS = REPO / "bench" / "results.json"
PLOT = REPO / "benchmarks.svg"

PANEL_WIDTH = 320
PANEL_HEIGHT = 220
MARGIN = 48
COLOURS = {"construct": "#1f77b4", "aws_custom_resource": "#d62728", "ideal": "#7f7f7f"}
LABELS = {"construct": "this construct", "aws_custom_resource": "AwsCustomResource"}
# The raw entry of a P6 row the StageMirror panel draws (bench.mirror writes it).
MIRROR_RATIOS = "plot_mirror_ratios"


@dataclass(frozen=True)
class Box:
    """A panel's plotting area."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of_panel(cls, x0: float) -> Box:
        return cls(x0 + MARGIN, MARGIN, PANEL_WIDTH - MARGIN - 10, PANEL_HEIGHT - MARGIN - 30)

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]


def line_panel(
    x0: float, title: str, x_label: str, y_label: str, series: Sequence[Series]
) -> list[str]:
    """One line chart at horizontal offset `x0`, axes from 0 to the largest value."""
    xs = [x for s in series for x, _ in s.points] or [1.0]
    ys = [y for s in series for _, y in s.points] or [1.0]
    x_max, y_max = max(xs) or 1.0, (max(ys) or 1.0) * 1.1
    box = Box.of_panel(x0)

    def at(x: float, y: float) -> tuple[float, float]:
        return box.left + x / x_max * box.width, box.bottom - y / y_max * box.height

    parts = [_text(x0 + PANEL_WIDTH / 2, 20, title, anchor="middle", weight="bold")]
    parts += _axes(box, x_max, y_max, x_label=x_label, y_label=y_label)
    for index, line in enumerate(series):
        colour = COLOURS.get(line.name, "#2ca02c")
        plotted = [at(x, y) for x, y in line.points]
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in plotted)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in plotted
        ]
        label = LABELS.get(line.name, line.name)
        parts.append(_text(box.left + 8, box.top + 14 + 14 * index, label, fill=colour))
    return parts


def bar_panel(x0: float, title: str, bars: Sequence[tuple[str, float, float]]) -> list[str]:
    """Measured makespan against its ideal, one pair of bars per benchmark (seconds)."""
    box = Box.of_panel(x0)
    left, top, height = box.left, box.top, box.height
    y_max = max([max(m, i) for _, m, i in bars] or [1.0]) * 1.1
    parts = [_text(x0 + PANEL_WIDTH / 2, 20, title, anchor="middle", weight="bold")]
    parts += _axes(box, 0, y_max, x_label="", y_label="seconds")
    slot = box.width / max(len(bars), 1)
    for index, (label, measured, ideal) in enumerate(bars):
        for offset, (value, colour) in enumerate(
            ((ideal, COLOURS["ideal"]), (measured, COLOURS["construct"]))
        ):
            bar_height = value / y_max * height
            x = left + index * slot + slot * (0.15 + 0.35 * offset)
            parts.append(
                f'<rect x="{x:.1f}" y="{top + height - bar_height:.1f}" '
                f'width="{slot * 0.3:.1f}" height="{bar_height:.1f}" fill="{colour}"/>'
            )
        parts.append(_text(left + (index + 0.5) * slot, top + height + 14, label, anchor="middle"))
    # Above the plotting area, right-aligned: bars reach up to the top of the area.
    legend_x = left + box.width
    parts.append(_text(legend_x, top - 16, "ideal", anchor="end", fill=COLOURS["ideal"]))
    parts.append(_text(legend_x, top - 4, "measured", anchor="end", fill=COLOURS["construct"]))
    return parts


def ratio_panel(
    x0: float,
    title: str,
    groups: Sequence[tuple[str, Sequence[float], float]],
    *,
    samples: str = "pairs, median",
) -> list[str]:
    """Per group: each sample's ratio as a dot, the median as a bar, the target dashed.
    ``samples``: the legend's name for the dots and bar."""
    box = Box.of_panel(x0)
    values = [v for _, ratios, limit in groups for v in [*ratios, limit]] or [1.0]
    y_max = max(values) * 1.15
    parts = [_text(x0 + PANEL_WIDTH / 2, 20, title, anchor="middle", weight="bold")]
    parts += _axes(box, 0, y_max, x_label="", y_label="ratio (x)")
    slot = box.width / max(len(groups), 1)

    def y_of(value: float) -> float:
        return box.bottom - value / y_max * box.height

    for index, (label, ratios, limit) in enumerate(groups):
        left = box.left + index * slot + slot * 0.2
        width = slot * 0.6
        middle = float(statistics.median(ratios)) if ratios else 0.0
        parts.append(
            f'<rect x="{left:.1f}" y="{y_of(middle):.1f}" width="{width:.1f}" '
            f'height="{box.bottom - y_of(middle):.1f}" fill="{COLOURS["construct"]}" '
            'fill-opacity="0.35"/>'
        )
        for offset, ratio in enumerate(ratios):
            x = left + width * (offset + 0.5) / len(ratios)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y_of(ratio):.1f}" r="2.5" '
                f'fill="{COLOURS["construct"]}"/>'
            )
        parts.append(
            f'<line x1="{left - 4:.1f}" y1="{y_of(limit):.1f}" x2="{left + width + 4:.1f}" '
            f'y2="{y_of(limit):.1f}" stroke="{COLOURS["aws_custom_resource"]}" '
            'stroke-dasharray="4 3"/>'
        )
        caption = f"{label} {middle:.2f}x"
        parts.append(
            _text(box.left + (index + 0.5) * slot, box.bottom + 14, caption, anchor="middle")
        )
    legend_x = box.left + box.width
    parts.append(_text(legend_x, box.top - 16, samples, anchor="end", fill=COLOURS["construct"]))
    parts.append(
        _text(legend_x, box.top - 4, "target", anchor="end", fill=COLOURS["aws_custom_resource"])
    )
    return parts


def _axes(box: Box, x_max: float, y_max: float, *, x_label: str, y_label: str) -> list[str]:
    left, top, width, height, bottom = box.left, box.top, box.width, box.height, box.bottom
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>',
        _text(left - 4, top + 4, _number(y_max), anchor="end"),
        _text(left - 4, bottom, "0", anchor="end"),
        _text(left - 36, top + height / 2, y_label, anchor="middle", rotate=True),
    ]
    if x_label:
        parts += [
            _text(left + width, bottom + 14, _number(x_max), anchor="end"),
            _text(left + width / 2, bottom + 28, x_label, anchor="middle"),
        ]
    return parts


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    fill: str = "#333",
    weight: str = "normal",
    rotate: bool = False,
) -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="sans-serif" font-size="11" '
        f'text-anchor="{anchor}" fill="{fill}" font-weight="{weight}"{transform}>'
        f"{escape(text)}</text>"
    )


def synth_series(raw: dict[str, Any], measure: str) -> list[Series]:
    series = []
    for kind in ("construct", "aws_custom_resource"):
        per_n = raw.get(kind, {}).get("per_n", {})
        points = sorted((float(n), float(values[measure])) for n, values in per_n.items())
        series.append(Series(kind, points))
    return series


def makespan_bars(benchmarks: dict[str, Any]) -> list[tuple[str, float, float]]:
    bars = []
    for section in benchmarks.values():
        for row in section.get("rows", []):
            plot = row.get("raw", {}).get("plot_makespan")
            if plot:
                bars.append((plot["label"], float(plot["measured"]), float(plot["ideal"])))
    return bars


def ratio_groups(
    benchmarks: dict[str, Any], key: str = "plot_ratios"
) -> list[tuple[str, list[float], float]]:
    """The rows' ratio samples a ratio panel draws, from each row's raw `key` entry."""
    groups = []
    for section in benchmarks.values():
        for row in section.get("rows", []):
            plot = row.get("raw", {}).get(key)
            if plot:
                ratios = [float(r) for r in plot["ratios"]]
                groups.append((plot["label"], ratios, float(plot["limit"])))
    return groups


def render(results: dict[str, Any]) -> str:
    benchmarks = results.get("benchmarks", {})
    synth = benchmarks.get("P1_synth_scaling", {}).get("raw", {})
    parts = [
        *ratio_panel(0, "P1 cdk synth: ours / AwsCustomResource", ratio_groups(benchmarks)),
        *line_panel(
            PANEL_WIDTH,
            "P1 in-process synth time",
            "replications (N)",
            "seconds",
            synth_series(synth, "seconds"),
        ),
        *line_panel(
            2 * PANEL_WIDTH,
            "P1 template size",
            "replications (N)",
            "bytes",
            synth_series(synth, "template_bytes"),
        ),
        *bar_panel(3 * PANEL_WIDTH, "P3/P5 makespan vs ideal", makespan_bars(benchmarks)),
        *ratio_panel(
            4 * PANEL_WIDTH,
            "P6 StageMirror: makespan / ideal",
            ratio_groups(benchmarks, MIRROR_RATIOS),
            samples="runs, median",
        ),
    ]
    width = 5 * PANEL_WIDTH
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{PANEL_HEIGHT}" '
            f'viewBox="0 0 {width} {PANEL_HEIGHT}">',
            f'<rect width="{width}" height="{PANEL_HEIGHT}" fill="white"/>',
            *parts,
            "</svg>",
            "",
        ]
    )


def main(argv: Sequence[str]) -> None:
    source = Path(argv[0]) if argv else RESULTS
    target = Path(argv[1]) if len(argv) > 1 else PLOT
    target.write_text(render(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
