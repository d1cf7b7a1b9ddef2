"""Ingest benchmark: hearing entries/s and peak memory, SQLite and PostgreSQL.

    uv run python bench/ingest.py [--cases 60000] [--workers 2] [--pg DSN] [--corpus DIR]

Generates a synthetic corpus once (cached in bench/out/corpus-<cases>), then ingests it into a
fresh SQLite file and, when a PostgreSQL DSN is given or COURTARCHIVE_TEST_PG is set, into a fresh
PostgreSQL schema.  Each ingest runs as a child process (the real CLI); peak RSS is the sum over
the process tree, sampled every 50 ms.  Prints a Markdown table row per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    peak = 0
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = p.communicate()
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {err[-2000:]}")
    return time.perf_counter() - t0, peak / 2**30, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=60000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg", default=os.environ.get("COURTARCHIVE_TEST_PG"))
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--skip-sqlite", action="store_true")
    a = ap.parse_args()

    cli = [sys.executable, "-m", "courtarchive.serve.cli"]
    corpus = a.corpus or OUT / f"corpus-{a.cases}"
    if not (corpus / "truth.json").exists():
        print(f"generating {a.cases} cases into {corpus} ...", file=sys.stderr)
        subprocess.run(cli + ["generate", "--cases", str(a.cases), "--seed", "7", "--out", str(corpus)],
                       check=True)
    files = sum(1 for p in (corpus / "lists").rglob("*.json") if not p.name.endswith(".meta.json"))
    rows = []
    backends = []
    if not a.skip_sqlite:
        db = OUT / "bench-ingest.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        backends.append(("SQLite", f"sqlite:///{db}", None))
    if a.pg:
        schema = "bench_" + uuid.uuid4().hex[:8]
        eng = sa.create_engine(a.pg)
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        u = sa.make_url(a.pg)
        url = u.set(query={**u.query, "options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        backends.append(("PostgreSQL", url, (eng, schema)))
    for name, url, cleanup in backends:
        env = dict(os.environ, COURTARCHIVE_DB=url, COURTARCHIVE_HOME=str(OUT / "home"))
        subprocess.run(cli + ["init"], env=env, check=True, capture_output=True)
        secs, peak, out = run_measured(cli + ["ingest", str(corpus / "lists"), "--json",
                                              "--workers", str(a.workers)], env)
        rep = json.loads(out)
        rate = rep["hearings"] / secs
        rows.append((name, files, rep["hearings"], secs, rate, peak, len(rep["rejected"])))
        # the second run: every file is a duplicate
        secs2, _, out2 = run_measured(cli + ["ingest", str(corpus / "lists"), "--json",
                                             "--workers", str(a.workers)], env)
        rows[-1] += (secs2,)
        if cleanup:
            eng, schema = cleanup
            with eng.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    print(f"\nmachine: {platform.node()} {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB; {time.strftime('%Y-%m-%d')}; workers={a.workers}")
    print("| backend | files | hearing entries | seconds | entries/s | peak RSS GiB | rejected | re-run s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:,} | {r[2]:,} | {r[3]:.1f} | {r[4]:,.0f} | {r[5]:.2f} | {r[6]} | {r[7]:.1f} |")


if __name__ == "__main__":
    main()
