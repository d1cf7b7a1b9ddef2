"""Benchmark `courtarchive analyse` end to end (a fresh interpreter per run, as a user runs it).

    uv run python bench/analyse.py [--cases 25000] [--seed 1] [--work /tmp/ca-bench-analyse]
                                   [--engine duckdb] [--runs 2]

Builds (once, reused) a generated corpus of ``--cases`` cases and an archive of it, then times
`analyse --oracle` cold (derived-input cache off) and warm (cache on, second run), for both
scopes, and prints one JSON line per run plus the oracle-equality status against truth.json.
Figures go to bench/RESULTS.md by hand (with the machine's load at the time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CLI = "from courtarchive.analyse.cli import app; app()"


def build(work: Path, cases: int, seed: int) -> tuple[Path, str]:
    corpus, db = work / f"corpus-{cases}-{seed}", work / f"archive-{cases}-{seed}.db"
    if not (corpus / "truth.json").exists():
        from courtarchive.generate import generate

        t = time.perf_counter()
        generate(corpus, cases=cases, seed=seed)
        print(f"# generated {cases} cases in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    if not db.exists():
        from courtarchive.governance.pseudonym import Keyring
        from courtarchive.ingest.pipeline import ingest
        from courtarchive.store import Archive

        t = time.perf_counter()
        a = Archive.open(url)
        a.init()
        ingest(a, [corpus / "lists"], keyring=Keyring(bytes(range(32))), workers=2)
        a.close()
        print(f"# ingested in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return corpus, url


def run(url: str, corpus: Path, out: Path, scope: str, engine: str, cache: bool, home: Path) -> dict:
    env = dict(os.environ, COURTARCHIVE_HOME=str(home))
    args = [sys.executable, "-c", CLI, "--out", str(out), "--db", url, "--oracle", str(corpus / "truth.json"),
            "--scope", scope, "--engine", engine, "--min-cell", "0", "--cache" if cache else "--no-cache"]
    t = time.perf_counter()
    p = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    f = json.loads((out / "findings.json").read_text())
    return {"scope": scope, "engine": engine, "cache": f["timings"].get("cache"), "wall_s": round(wall, 2),
            **{k: v for k, v in f["timings"].items() if k != "cache"}, "cases": f["cases"],
            "hearing_entries": f["data"]["hearing_entries"], "findings": f}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ca-bench-analyse"))
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    corpus, url = build(a.work, a.cases, a.seed)
    truth = json.loads((corpus / "truth.json").read_text())["findings"]
    from courtarchive.analyse.run import matches_truth

    home = a.work / "home"
    print(f"# load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    for scope in ("child-sexual-abuse", "all"):
        for cache in (False, True, True)[: 1 + a.runs]:
            r = run(url, corpus, a.work / "out", scope, a.engine, cache, home)
            f = r.pop("findings")
            r["truth_mismatches"] = matches_truth(f, truth[scope])
            print(json.dumps(r))


if __name__ == "__main__":
    main()
