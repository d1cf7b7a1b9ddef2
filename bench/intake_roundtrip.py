"""PDF / Excel intake round trip (issue 10): generate a corpus, render every list to PDF and XLSX in
CaTH's column layouts, ingest the JSON lists and each format's copies into fresh SQLite archives,
and compare defendant entries field by field (`courtarchive.ingest.layouts.compare`).

    uv run python bench/intake_roundtrip.py [--cases 1000] [--seed 1] [--years 1] [--workers 2]
                                            [--formats pdf,xlsx] [--json] [--keep]

Prints the share of JSON defendant entries recovered with every field equal, the fields that
differ (if any) with one example each, and ingest throughput per format.  Work files go to
bench/out/intake-<cases> and are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--formats", default="pdf,xlsx")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    from courtarchive.ingest.layouts.compare import roundtrip

    work = OUT / f"intake-{a.cases}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    r = roundtrip(work, cases=a.cases, seed=a.seed, years=a.years, workers=a.workers,
                  formats=tuple(f.strip() for f in a.formats.split(",") if f.strip()))
    r["total_seconds"] = round(time.perf_counter() - t0, 1)
    r["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_1min": round(os.getloadavg()[0], 2)}
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(r, indent=2, default=str))
        return 0
    c, j = r["corpus"], r["json"]
    print(f"corpus: {a.cases} cases, seed {a.seed}, {a.years} years: {c['lists']} lists, {c['entries']} hearing entries, "
          f"{j['defendant_entries']} defendant entries {j['entries_by_list_type']}; rendering {c['render_seconds']} s")
    print(f"JSON ingest: {j['seconds']} s")
    print("| format | defendant entries | all fields equal | share | missing | files rejected | ingest s | entries/s |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt in (k for k in ("pdf", "xlsx") if k in r):
        x = r[fmt]
        rate = x["entries"] / x["seconds"] if x["seconds"] else 0
        print(f"| {fmt} | {x['entries']} | {x['equal']} | {x['share_equal']:.4f} | {x['missing']} | "
              f"{len(x['rejected'])} | {x['seconds']} | {rate:.0f} |")
        for f, n in x["fields_differing"].items():
            print(f"    {fmt}: {f} differs in {n} entries, e.g. {x['examples'][f]}")
    print(f"fields compared ({len(r['fields_compared'])}): {', '.join(r['fields_compared'])}")
    print(f"total {r['total_seconds']} s; machine {r['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
