#!/usr/bin/env python3
"""Plots a janus-vs-relais.sh output directory as SVG, by hand (standard library only):
server CPU per forwarded packet and one-way delay (p50 solid, p99 dashed) against N."""

import json
import math
import pathlib
import re
import sys

COLOURS = {"relais": "#1f77b4", "janus": "#d62728", "sfu": "#2ca02c", "direct": "#888888"}


def load(out):
    runs = {}
    for path in sorted(out.glob("*.json")):
        m = re.fullmatch(r"(relais|janus|direct)-(\d+)\.json", path.name)
        if m:
            r = json.loads(path.read_text())
            if not r.get("failed"):
                runs.setdefault(m.group(1), {})[int(m.group(2))] = r
    return runs


def nice_max(v):
    if v <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        mag = 10 ** (len(str(int(v))) - 1) if v >= 1 else 0.1
        top = step * mag
        if top >= v:
            return top
    return v


def panel(x0, y0, w, h, title, ylabel, series, xmax, log=False):
    """series: list of (label, colour, dash, [(n, value)]); `log` for a logarithmic y axis."""
    values = [v for _, _, _, pts in series for _, v in pts if v is not None and (v > 0 or not log)]
    ymax = nice_max(max(values) * 1.1 if values else 1.0)
    sx = lambda n: x0 + w * n / xmax
    if log:
        lo = 10 ** math.floor(math.log10(min(values))) if values else 0.1
        hi = 10 ** math.ceil(math.log10(max(values))) if values else 1.0
        hi = max(hi, lo * 10)
        sy = lambda v: y0 + h - h * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    else:
        sy = lambda v: y0 + h - h * v / ymax
    parts = [
        f'<text x="{x0 + w / 2}" y="{y0 - 10}" text-anchor="middle" font-weight="bold">{title}</text>',
        f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>',
        f'<text x="{x0 - 45}" y="{y0 + h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 45} {y0 + h / 2})">{ylabel}</text>',
        f'<text x="{x0 + w / 2}" y="{y0 + h + 35}" text-anchor="middle">concurrent calls (N)</text>',
    ]
    grid = [ymax * i / 5 for i in range(6)]
    if log:
        grid = [10 ** e for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1)]
    for v in grid:
        y = sy(v)
        parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + w}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{v:g}</text>')
    ticks = sorted({n for _, _, _, pts in series for n, _ in pts})
    for n in ticks:
        parts.append(f'<text x="{sx(n)}" y="{y0 + h + 16}" text-anchor="middle">{n}</text>')
    for k, (label, colour, dash, pts) in enumerate(series):
        pts = [(n, v) for n, v in sorted(pts) if v is not None and (v > 0 or not log)]
        if pts:
            d = " ".join(f"{sx(n):.1f},{sy(v):.1f}" for n, v in pts)
            dash_attr = ' stroke-dasharray="6 4"' if dash else ""
            parts.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
            for n, v in pts:
                parts.append(f'<circle cx="{sx(n):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"/>')
        ly = y0 + 15 + 16 * k
        dash_attr = ' stroke-dasharray="6 4"' if dash else ""
        parts.append(f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 35}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        parts.append(f'<text x="{x0 + 40}" y="{ly}">{label}</text>')
    return parts


def main():
    out = pathlib.Path(sys.argv[1])
    dest = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else out / "plot.svg"
    runs = load(out)
    ns = [n for s in runs.values() for n in s]
    xmax = max(ns) * 1.05 if ns else 1
    cpu, delay = [], []
    for server in ("relais", "janus"):
        r = runs.get(server, {})
        c = COLOURS[server]
        cpu.append((server, c, False, [(n, x.get("server_cpu_us_per_forwarded_packet")) for n, x in r.items()]))
        delay.append((f"{server} p50", c, False, [(n, x.get("delay_ms_p50")) for n, x in r.items()]))
        delay.append((f"{server} p99", c, True, [(n, x.get("delay_ms_p99")) for n, x in r.items()]))
    direct = runs.get("direct", {})
    if direct:
        delay.append(("no server (clients alone) p99", COLOURS["direct"], True,
                      [(n, x.get("delay_ms_p99")) for n, x in direct.items()]))
    relais = runs.get("relais", {})
    delay.append(("Relais SFU residence p99", COLOURS["sfu"], True,
                  [(n, x.get("server_residence_ms_p99")) for n, x in relais.items()]))
    w, h = 420, 300
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="1040" height="420" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    parts += panel(80, 50, w, h, "Server CPU per forwarded RTP packet", "µs", cpu, xmax)
    parts += panel(590, 50, w, h, "One-way delay (sender → receiver), log scale", "ms", delay, xmax, log=True)
    parts.append("</svg>")
    dest.write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
