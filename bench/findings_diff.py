"""Compare two findings.json files number by number: real linkage against the truth (issue 6's
"with real linkage, within 2 %").

    uv run python bench/findings_diff.py LINKED/findings.json ORACLE/findings.json [--tol 0.02] [--all]

Every count in the two files is matched by its path; rows of ranked tables are matched by their
natural key (town, police force area, year, court), not by rank, so a town that moves one place is
compared with itself; rows without one (networks spanning areas) are compared as a multiset: how many rows
have each content.  Run metadata (timings, the linkage run, generated_at, disclosure notes,
network labels and drawings) and test statistics (p, q, z values) are skipped.  A Kaplan-Meier
curve (a list of [time, value] steps) is one number: the largest gap between the two step
functions over the times of either (Kolmogorov distance), against the tolerance as an absolute
difference of probability -- compared point by point, one extra event in one curve shifted every
later point.  Prints each number outside the tolerance, then a summary line: numbers compared,
equal, within the tolerance, off.
The exit status is 1 when any number is off (0 otherwise), so scripts can use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from bisect import bisect_right
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


def _is_curve(x) -> bool:
    return (isinstance(x, list) and bool(x)
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p) for p in x))


def step_gap(a: list, b: list) -> float:
    """The largest |S_a(t) - S_b(t)| over the step times of either curve (each curve holds its
    value from one step to the next; before its first step, its first value)."""
    ta, tb = [p[0] for p in a], [p[0] for p in b]

    def at(c: list, times: list, t: float) -> float:
        return c[max(bisect_right(times, t) - 1, 0)][1]

    return max((abs(at(a, ta, t) - at(b, tb, t)) for t in sorted(set(ta) | set(tb))), default=0.0)


def flatten(x, path: str = "", out: dict | None = None, curves: dict | None = None) -> dict[str, float]:
    """Every number of a findings tree by its path; Kaplan-Meier curves (compared as a whole,
    `step_gap`) go to ``curves`` by theirs."""
    out = {} if out is None else out
    if _is_curve(x):
        if curves is not None:
            curves[path] = x
        return out
    if isinstance(x, dict):
        for k, v in x.items():
            if (not path and k in SKIP) or k in SKIP_LEAF:
                continue
            flatten(v, f"{path}.{k}" if path else k, out, curves)
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
            flatten(v, f"{path}[{k if k else i}]", out, curves)
    elif isinstance(x, bool):
        pass
    elif isinstance(x, (int, float)):
        out[path] = float(x)
    return out


def compare(linked: dict, truth: dict, tol: float) -> tuple[list[tuple[str, float | None, float | None]], dict]:
    ca: dict[str, list] = {}
    cb: dict[str, list] = {}
    a, b = flatten(linked, curves=ca), flatten(truth, curves=cb)
    off, equal, within = [], 0, 0
    for k in sorted(set(ca) | set(cb)):
        if k not in ca or k not in cb:
            off.append((k + " (curve)", None if k not in ca else 1.0, None if k not in cb else 1.0))
            continue
        gap = step_gap(ca[k], cb[k])
        if gap == 0:
            equal += 1
        elif gap <= tol:
            within += 1
        else:
            off.append((k + f" (curve: largest gap {gap:.4f})", gap, 0.0))
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
    return off, {"compared": len(set(a) | set(b)) + len(set(ca) | set(cb)), "equal": equal, "within": within,
                 "off": len(off)}


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
