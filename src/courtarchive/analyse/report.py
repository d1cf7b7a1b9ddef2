"""report.html: one self-contained file (no network at all when opened).

Inlined: Vega / Vega-Lite / vega-embed (the bundle vl-convert ships, cached once per version),
Leaflet 1.9.4 (``static/leaflet``, BSD-2) and a Great Britain outline (Natural Earth 1:50m via
world-atlas, ``static/gb_outline.geojson``).  No tile server: courts are drawn as circles over the
outline.  Network diagrams are inline SVG laid out with igraph (pseudonymous labels only).
The methods section quotes the docstrings of `definitions` (the definitions), of ``sql`` (how
each field is derived from the lists) and of ``stats``.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import os
import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from . import definitions as D

__all__ = ["render", "write_report", "vega_bundle"]

def _static(*parts: str) -> str:
    p = resources.files("courtarchive.analyse") / "static"
    for part in parts:
        p = p / part
    return p.read_text("utf-8")


def _cache_dir() -> Path:
    base = os.environ.get("COURTARCHIVE_CACHE") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    p = Path(base) / "courtarchive"
    p.mkdir(parents=True, exist_ok=True)
    return p


def vega_bundle() -> str:
    """vega-embed + Vega + Vega-Lite as one classic script (from vl-convert; cached per version)."""
    import vl_convert as vlc

    f = _cache_dir() / f"vega-embed-bundle-{vlc.__version__}.js"
    if f.is_file():
        return f.read_text("utf-8")
    js = vlc.javascript_bundle()
    tmp = f.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(js, "utf-8")
    tmp.replace(f)
    return js


def _leaflet() -> tuple[str, str]:
    js = _static("leaflet", "leaflet.js")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    css = _static("leaflet", "leaflet.css")
    css = re.sub(r"url\([^)]*\)", "none", css)          # no image fetches: markers are not used
    return js, css


def _script_safe(s: str) -> str:
    """JSON for a <script> block: no "</" can end the block early (JSON allows "<\\/")."""
    return s.replace("</", "<\\/")


def _code_safe(s: str) -> str:
    """JavaScript source for a <script> block: only "</script" must not appear literally."""
    return re.sub(r"</(script)", r"<\\/\\1", s, flags=re.IGNORECASE)


# ------------------------------------------------------------------ charts (Vega-Lite specs)
def _km_chart(f: dict, measure: str, by: str | None, title: str) -> dict | None:
    km = f["delays"]["kaplan_meier"][measure]
    rows = []
    if by is None:
        for t, s in km["overall"].get("curve", []):
            rows.append({"days": t, "survival": s, "group": "all in scope"})
    else:
        for g, summ in km[by].items():
            for t, s in summ.get("curve", []):
                rows.append({"days": t, "survival": s, "group": g})
    if not rows:
        return None
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title,
            "width": "container", "height": 260, "data": {"values": rows},
            "mark": {"type": "line", "interpolate": "step-after"},
            "encoding": {"x": {"field": "days", "type": "quantitative", "title": "days"},
                         "y": {"field": "survival", "type": "quantitative", "title": "share not yet reached",
                               "scale": {"domain": [0, 1]}},
                         "color": {"field": "group", "type": "nominal", "title": None}}}


def _bar(values: list[dict], x: str, y: str, title: str, *, horizontal: bool = False, sort=None) -> dict:
    enc = {"x": {"field": x, "type": "ordinal" if not horizontal else "quantitative", "title": x.replace("_", " ")},
           "y": {"field": y, "type": "quantitative" if not horizontal else "nominal", "title": y.replace("_", " ")}}
    if horizontal:
        enc["y"]["sort"] = sort or "-x"
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title,
            "width": "container", "height": 260 if not horizontal else max(120, 18 * len(values)),
            "data": {"values": values}, "mark": {"type": "bar", "tooltip": True}, "encoding": enc}


def _year_chart(f: dict) -> dict:
    vals = []
    for r in f["counts_by_year"]:
        vals.append({"year": str(r["year"]), "count": r["cases"], "series": "cases"})
        vals.append({"year": str(r["year"]), "count": r["multi_defendant_cases"], "series": ">= 2 defendants"})
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": "In-scope cases by year of first hearing",
            "width": "container", "height": 240, "data": {"values": vals},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {"x": {"field": "year", "type": "ordinal"}, "xOffset": {"field": "series"},
                         "y": {"field": "count", "type": "quantitative"},
                         "color": {"field": "series", "type": "nominal", "title": None}}}


# ------------------------------------------------------------------ network diagrams (SVG)
#: networks with more defendants than this are described, not drawn (a force-directed layout is
#: quadratic per iteration: a names-only 10M archive had a network the report never finished drawing)
MAX_DRAWN = 200


def _network_svg(net: dict, size: int = 260) -> str:
    n = len(net["nodes"])
    if n > MAX_DRAWN:
        return (f'<p class="network-too-big">{n:,} defendants and {len(net["edges"]):,} links: too many to '
                f'draw (diagrams stop at {MAX_DRAWN}); the network is listed in findings.json.</p>')
    from ..config import igraph

    ig = igraph()

    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in net["edges"]])
    start = [[math.cos(2 * math.pi * i / max(n, 1)), math.sin(2 * math.pi * i / max(n, 1))] for i in range(n)]
    coords = g.layout_fruchterman_reingold(seed=start, niter=500).coords if n > 1 else [(0.0, 0.0)]
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    pad = 22
    def sc(v, lo, hi):
        return pad + (size - 2 * pad) * ((v - lo) / (hi - lo) if hi > lo else 0.5)
    pts = [(sc(x, min(xs), max(xs)), sc(y, min(ys), max(ys))) for x, y in zip(xs, ys)]
    parts = [f'<svg class="network" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
             f'role="img" aria-label="network {html.escape(net["network"])}">']
    for a, b, kind in net["edges"]:
        dash = ' stroke-dasharray="4 3"' if kind != "co-defendants" else ""
        parts.append(f'<line x1="{pts[a][0]:.1f}" y1="{pts[a][1]:.1f}" x2="{pts[b][0]:.1f}" y2="{pts[b][1]:.1f}" '
                     f'stroke="#667" stroke-width="1.3"{dash}/>')
    for (x, y), lab in zip(pts, net["nodes"]):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#c0392b"/>'
                     f'<text x="{x:.1f}" y="{y + 3:.1f}" font-size="7" text-anchor="middle" fill="#fff">'
                     f'{html.escape(lab)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------ methods text
def _methods() -> dict:
    from . import sql, stats

    funcs = []
    for name in ("victims_linked_to_2plus_defendants", "defendant_edges", "case_network_sizes",
                 "case_locations", "multi_defendant_cases_by_location", "delay_medians", "repeat_offending",
                 "cross_boundary"):
        fn = getattr(D, name)
        funcs.append({"name": name, "doc": inspect.getdoc(fn) or ""})
    return {"definitions": inspect.getdoc(D) or "", "functions": funcs,
            "derivation": inspect.getdoc(sql) or "", "statistics": inspect.getdoc(stats) or ""}


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isinf(v):
            return "not reached"
        return f"{v:,.0f}" if v >= 100 else f"{v:,.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render(findings: dict) -> str:
    env = Environment(loader=PackageLoader("courtarchive.analyse", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["n"] = _fmt
    f = findings
    charts = {}
    c = _km_chart(f, "first_hearing_to_completion", None, "First hearing to completion (Kaplan-Meier)")
    if c:
        charts["km_overall"] = c
    c = _km_chart(f, "offence_to_completion", "by_offence_group", "Offence to completion by offence group")
    if c:
        charts["km_groups"] = c
    if f["counts_by_year"]:
        charts["years"] = _year_chart(f)
    top = [{"location": f"{r['town']} ({r['pfa']})", "multi_defendant_cases": r["multi_defendant_cases"]}
           for r in f["multi_defendant_cases_by_location"][:15]]
    if top:
        charts["locations"] = _bar(top, "multi_defendant_cases", "location",
                                   "Cases with two or more defendants by location", horizontal=True)
    leaflet_js, leaflet_css = _leaflet()
    mapdata = {"courts": f["courts"], "hotspots": f["hotspots"]["hotspots"],
               "outline": json.loads(_static("gb_outline.geojson"))}
    ctx = {
        "f": f, "charts_json": _script_safe(json.dumps(charts)), "map_json": _script_safe(json.dumps(mapdata)),
        "vega_js": _code_safe(vega_bundle()), "leaflet_js": _code_safe(leaflet_js), "leaflet_css": leaflet_css,
        "networks": [{"meta": n, "svg": _network_svg(n)} for n in f["networks"]],
        "methods": _methods(), "km": f["delays"]["kaplan_meier"],
    }
    return env.get_template("report.html.j2").render(**ctx)


def write_report(findings: dict, path: Path | str) -> Path:
    p = Path(path)
    p.write_text(render(findings), "utf-8")
    return p
