"""Ingest benchmark: hearing entries/s and peak memory, SQLite and PostgreSQL.

    uv run python bench/ingest.py [--cases 60000] [--workers 2] [--pg DSN] [--corpus DIR] [--cli] [--runs N]
                                  [--bulk off|on|both]

Generates a synthetic corpus once (cached in bench/out/corpus-<cases>), then ingests it into a
fresh SQLite file and, when a PostgreSQL DSN is given or COURTARCHIVE_TEST_PG is set, into a fresh
PostgreSQL schema.  Each ingest runs as a child process: by default `ingest.pipeline.ingest`
itself (what `courtarchive ingest` runs, without the CLI's after-ingest steps -- search index,
alerts -- which are other stages); with `--cli`, the whole `courtarchive ingest` command.  Peak
RSS is the sum over the process tree, sampled every 50 ms; CPU seconds are the tree's user+sys
(the PostgreSQL server's own CPU is not in them).  `--bulk on` times `ingest --bulk` (indexes and, on
PostgreSQL, foreign keys taken off while writing and put back at the end: `store.bulk`; the
seconds include putting them back), `both` runs each backend both ways.  The load average is printed with every row:
on a shared machine entries/s depends on it.  Prints a Markdown table row per backend and run.
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


CHILD = """
import json, sys, time
from courtarchive.config import settings
from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest.pipeline import ingest
from courtarchive.store import Archive
a = Archive.open()
t0 = time.perf_counter()
rep = ingest(a, [sys.argv[1]], keyring=Keyring.from_settings(settings()), workers=int(sys.argv[2]),
             bulk=sys.argv[3] == "1")
print(json.dumps({**rep.as_dict(), "seconds": time.perf_counter() - t0}))
"""


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, str, tuple[float, float]]:
    """(wall seconds, peak RSS GiB, stdout, CPU seconds of (the ingest process, its workers))."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    peak = 0
    cpu: dict[int, float] = {}
    while p.poll() is None:
        try:
            procs = [proc] + proc.children(recursive=True)
            rss = 0
            for q in procs:
                rss += q.memory_info().rss
                t = q.cpu_times()
                cpu[q.pid] = t.user + t.system
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = p.communicate()
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {err[-2000:]}")
    main_cpu = cpu.pop(p.pid, 0.0)
    return time.perf_counter() - t0, peak / 2**30, out, (main_cpu, sum(cpu.values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=60000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg", default=os.environ.get("COURTARCHIVE_TEST_PG"))
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--cli", action="store_true", help="time the whole `courtarchive ingest` command")
    ap.add_argument("--runs", type=int, default=1, help="fresh ingests per backend")
    ap.add_argument("--bulk", choices=["off", "on", "both"], default="off", help="time `ingest --bulk` too / only")
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
    def ingest_cmd(bulk: bool) -> list[str]:
        if a.cli:
            return cli + ["ingest", str(corpus / "lists"), "--json", "--workers", str(a.workers)] + (["--bulk"] if bulk else [])
        return [sys.executable, "-c", CHILD, str(corpus / "lists"), str(a.workers), "1" if bulk else "0"]

    modes = {"off": [False], "on": [True], "both": [False, True]}[a.bulk]
    for (name, url, cleanup), bulk in ((b, m) for b in backends for m in modes):
        for _ in range(a.runs):
            env = dict(os.environ, COURTARCHIVE_DB=url, COURTARCHIVE_HOME=str(OUT / "home"))
            if name == "SQLite":
                for suffix in ("", "-wal", "-shm"):
                    Path(str(db) + suffix).unlink(missing_ok=True)
            else:
                eng, schema = cleanup
                with eng.begin() as c:
                    c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                    c.exec_driver_sql(f"CREATE SCHEMA {schema}")
            subprocess.run(cli + ["init"], env=env, check=True, capture_output=True)
            load0 = os.getloadavg()[0]
            secs, peak, out, cpu = run_measured(ingest_cmd(bulk), env)
            load1 = os.getloadavg()[0]
            rep = json.loads(out)
            rate = rep["hearings"] / secs
            label = name
            if bulk:
                b = rep.get("bulk") or {}
                label += f" --bulk (put back in {b.get('restore_seconds', 0):.1f} s)"
            row = (label, files, rep["hearings"], secs, rate, peak, len(rep["rejected"]), cpu,
                   f"{load0:.1f}-{load1:.1f}")
            # the second run: every file is a duplicate
            secs2, _, out2, _ = run_measured(ingest_cmd(False), env)
            rows.append(row + (secs2,))
            print("| " + " | ".join(_fmt(rows[-1])) + " |", file=sys.stderr)
    for name, url, cleanup in backends:
        if cleanup:
            eng, schema = cleanup
            with eng.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    print(f"\nmachine: {platform.node()} {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB; {time.strftime('%Y-%m-%d')}; workers={a.workers}")
    print(f"measured: {'courtarchive ingest (CLI, with after-ingest steps)' if a.cli else 'ingest.pipeline.ingest'}")
    print("| backend | files | hearing entries | seconds | entries/s | peak RSS GiB | rejected "
          "| CPU s (writer + parser workers) | load 1-min (start-end) | re-run s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(_fmt(r)) + " |")


def _fmt(r) -> list[str]:
    return [r[0], f"{r[1]:,}", f"{r[2]:,}", f"{r[3]:.1f}", f"{r[4]:,.0f}", f"{r[5]:.2f}", str(r[6]),
            f"{sum(r[7]):.0f} ({r[7][0]:.0f} + {r[7][1]:.0f})", r[8], f"{r[9]:.1f}"]


if __name__ == "__main__":
    main()
