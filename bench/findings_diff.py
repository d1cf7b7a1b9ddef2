"""Compare two findings.json files number by number: real linkage against the truth (issue 6's
"with real linkage, within 2 %").

    uv run python bench/findings_diff.py LINKED/findings.json ORACLE/findings.json [--tol 0.02] [--all]

Every count in the two files is matched by its path; rows of ranked tables are matched by their
natural key (town, police force area, year, court), not by rank, so a town that moves one place is
compared with itself; rows without one (networks spanning areas) are compared as a multiset: how many rows
have each content.  Run metadata (timings, the linkage run, generated_at, disclosure notes,
network labels and drawings) and test statistics (p, q, z values) are skipped.  Prints each number
outside the tolerance, then a summary line: numbers compared, equal, within the tolerance, off.
The exit status is 1 when any number is off (0 otherwise), so scripts can use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SKIP = {"timings", "generated_at", "linkage", "disclosure", "networks", "filters", "engine",
        "multi_defendant_cases_by_location_test", "method", "data"}
SKIP_LEAF = {"p_value", "q_value", "p_sim", "p_z_sim", "z_sim", "z", "gi", "expected", "excess_ratio",
             "rate", "rate_per_1000_all_cases", "share", "cumulative_share", "ci_low", "ci_high", "lat",
             "lon", "rank", "significant"}
LABELS = {"network", "nodes", "edges"}
KEYS = ("town", "pfa", "year", "court", "network_size", "group", "name")


def _key(row: dict) -> str | None:
    for k in KEYS:
        if k in row and not isinstance(row[k], (dict, list)):
            return f"{k}={row[k]}"
    return None


def flatten(x, path: str = "", out: dict | None = None) -> dict[str, float]:
    out = {} if out is None else out
    if isinstance(x, dict):
        for k, v in x.items():
            if (not path and k in SKIP) or k in SKIP_LEAF:
                continue
            flatten(v, f"{path}.{k}" if path else k, out)
    elif isinstance(x, list):
        if x and all(isinstance(v, dict) and _key(v) is None for v in x):
            # rows without a natural key (one per network: labels differ between runs): compared
            # as a multiset -- how many rows have each content, labels left out
            counts: dict[str, int] = {}
            for v in x:
                k = json.dumps({k: w for k, w in v.items() if k not in LABELS}, sort_keys=True, default=str)
                counts[k] = counts.get(k, 0) + 1
            for k, n in counts.items():
                out[f"{path}[{k}]"] = float(n)
            return out
        for i, v in enumerate(x):
            k = _key(v) if isinstance(v, dict) else None
            flatten(v, f"{path}[{k if k else i}]", out)
    elif isinstance(x, bool):
        pass
    elif isinstance(x, (int, float)):
        out[path] = float(x)
    return out


def compare(linked: dict, truth: dict, tol: float) -> tuple[list[tuple[str, float | None, float | None]], dict]:
    a, b = flatten(linked), flatten(truth)
    off, equal, within = [], 0, 0
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None or y is None:
            off.append((k, x, y))
        elif x == y:
            equal += 1
        elif abs(x - y) <= tol * max(abs(y), 1e-12):
            within += 1
        else:
            off.append((k, x, y))
    return off, {"compared": len(set(a) | set(b)), "equal": equal, "within": within, "off": len(off)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("linked", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--all", action="store_true", help="also print the numbers within the tolerance")
    ns = ap.parse_args()
    linked, truth = (json.loads(p.read_text()) for p in (ns.linked, ns.truth))
    off, summary = compare(linked, truth, ns.tol)
    for k, x, y in off:
        rel = "" if x is None or y is None or not y else f" ({(x - y) / y:+.1%})"
        print(f"OFF  {k}: {x} vs truth {y}{rel}")
    if ns.all:
        a, b = flatten(linked), flatten(truth)
        for k in sorted(set(a) & set(b)):
            if a[k] != b[k] and (k, a[k], b[k]) not in off:
                print(f"near {k}: {a[k]} vs truth {b[k]}")
    print(json.dumps({"scope": linked.get("scope"), "tol": ns.tol, **summary}))
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
