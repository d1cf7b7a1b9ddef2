"""Parser and complainant-extractor speed: the "Parsers and intake gate" figures of bench/RESULTS.md.

    uv run python bench/parse_speed.py [--entries 50000] [--wordings 100000] [--runs 3]

* parse only, and schema validation, in entries/s, over one large list: the test suite's synthetic
  Magistrates Standard List (`tests/test_cath_parsers.py`, `_synthetic_standard_list`: one
  defendant with address and one offence, and a prosecutor, per entry), decoded once;
* the complainant extractor in wordings/s over the tests' mixed corpus (`tests/test_complainants.py`,
  `throughput_corpus`: 80 % plain wordings, 20 % naming a person).

Each is timed best of ``--runs`` (the machine may be shared), validation once.  The tests check
what these inputs give; the speed is measured here.  The whole ingest path: `bench/ingest.py`,
`bench/ingest_profile.py`.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import deque
from pathlib import Path

import orjson

from courtarchive.ingest import cath
from courtarchive.ingest.cath import LIST_TYPES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_cath_parsers import _synthetic_standard_list  # noqa: E402  (the tests' inputs, one definition)
from test_complainants import throughput_corpus  # noqa: E402

from courtarchive.link.complainants import extract  # noqa: E402


def best_of(runs: int, fn) -> tuple[float, object]:
    """The shortest of ``runs`` timings of ``fn()`` (the machine may be shared), and its result."""
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _parse(doc, lt):
    b = cath._Builder(None, None, None)
    lt.parser(doc, b)
    return b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--wordings", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    doc = orjson.loads(_synthetic_standard_list(a.entries))
    lt = LIST_TYPES["MAGISTRATES_STANDARD_LIST"]
    parse_s, b = best_of(a.runs, lambda: _parse(doc, lt))
    if len(b.hearings) != a.entries:
        raise SystemExit(f"parsed {len(b.hearings)} hearings of {a.entries}")
    validate_s, _ = best_of(1, lambda: cath.validate(doc, lt.name))
    print(f"{platform.node()}, {time.strftime('%Y-%m-%d %H:%M')}: {a.entries:,} entries; "
          f"parse {a.entries / parse_s:,.0f} entries/s (best of {a.runs}); "
          f"schema validation {a.entries / validate_s:,.0f} entries/s "
          f"({validate_s / (validate_s + parse_s):.0%} of parse + validate)")
    wordings = [w for w, _ in throughput_corpus(a.wordings)]
    extract_s, _ = best_of(a.runs, lambda: deque(map(extract, wordings), maxlen=0))   # (results not kept)
    print(f"complainant extractor: {len(wordings) / extract_s:,.0f} wordings/s (80 % plain, 20 % naming a person; "
          f"best of {a.runs})")


if __name__ == "__main__":
    main()
