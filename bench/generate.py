"""Generator benchmark: hearing entries/s and peak memory at 25k and 100k cases.

    uv run python bench/generate.py [--cases 25000 100000] [--seed 1] [--workers 0|1] [--keep]

Each size runs in a fresh child process (imports included in "end to end").  The child samples
its RSS plus that of its own children (the list-rendering process) every 20 ms (psutil) and
reports the peak over the whole run and over the list-writing phase alone (the streaming loop: it must not grow with N; the truth summary at the end reads the
truth tables with polars and does).  Prints a Markdown table; corpora go to bench/out/gen-<cases>
and are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def child(cases: int, seed: int, out: Path, workers: int | None) -> None:
    proc = psutil.Process()
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        # the rendering process (if any) counts too: RSS of this process plus its children
        while not stop.is_set():
            rss = proc.memory_info().rss
            for ch in proc.children(recursive=True):
                try:
                    rss += ch.memory_info().rss
                except psutil.Error:
                    pass
            samples.append((time.perf_counter(), rss))
            stop.wait(0.02)

    t_import = time.perf_counter()
    from courtarchive.generate import generate
    t0 = time.perf_counter()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    c0 = time.process_time()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = generate(out, cases=cases, seed=seed, workers=workers)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    t1 = time.perf_counter()
    stop.set()
    th.join()
    tm = s["timings"]
    lists_from, lists_to = t0 + tm["setup"], t0 + tm["setup"] + tm["lists"]
    peak = max(r for _, r in samples)
    peak_lists = max((r for t, r in samples if lists_from <= t <= lists_to), default=peak)
    f = s["findings"]["child-sexual-abuse"]
    print(json.dumps({
        "cases": s["cases"], "render_processes": s.get("render_processes", 0), "hearings": s["hearings"], "entries": s["entries"], "files": s["files"],
        "import_s": round(t0 - t_import, 2), "generate_s": round(t1 - t0, 2), "cpu_s": round(cpu, 2),
        "timings": tm, "peak_rss_mb": round(peak / 2**20, 1), "peak_rss_lists_mb": round(peak_lists / 2**20, 1),
        "csa": {k: f[k] for k in ("cases", "victims_linked_to_2plus_defendants", "cases_with_network_3plus",
                                  "cases_with_network_5plus")},
        "top_town": (f["multi_defendant_cases_by_location"] or [{}])[0].get("town"),
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, nargs="+", default=[25_000, 100_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--workers", type=int, choices=[0, 1], default=None,
                    help="rendering processes (default: the generator's choice)")
    ap.add_argument("--child", nargs=4, metavar=("CASES", "SEED", "OUT", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(int(a.child[0]), int(a.child[1]), Path(a.child[2]), None if a.child[3] == "auto" else int(a.child[3]))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}", file=sys.stderr)
    rows = []
    for n in a.cases:
        out = OUT / f"gen-{n}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        r = subprocess.run([sys.executable, __file__, "--child", str(n), str(a.seed), str(out),
                            "auto" if a.workers is None else str(a.workers)],
                           check=True, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
        d = json.loads(r.stdout.strip().splitlines()[-1])
        d["wall_s"] = round(wall, 2)
        rows.append(d)
        print(json.dumps(d), file=sys.stderr)
        if not a.keep:
            shutil.rmtree(out, ignore_errors=True)
    print("| cases | render procs | hearings | list entries | files | end to end (s) | generate (s) | list phase (s) "
          "| entries/s (list phase) | entries/s per main-thread CPU s | entries/s (generate) | CPU (s) "
          "| peak RSS (MB) | peak RSS list phase (MB) | CSA victims >=2 def | cases net>=3 | net>=5 | top town |")
    print("|" + "---|" * 18)
    for d in rows:
        tm = d["timings"]
        print(f"| {d['cases']:,} | {d['render_processes']} | {d['hearings']:,} | {d['entries']:,} | {d['files']:,} | {d['wall_s']} "
              f"| {d['generate_s']} | {tm['lists']} | {d['entries'] / tm['lists']:,.0f} "
              f"| {d['entries'] / tm['lists_main_thread_cpu']:,.0f} "
              f"| {d['entries'] / d['generate_s']:,.0f} | {d['cpu_s']} | {d['peak_rss_mb']} "
              f"| {d['peak_rss_lists_mb']} | {d['csa']['victims_linked_to_2plus_defendants']} "
              f"| {d['csa']['cases_with_network_3plus']} | {d['csa']['cases_with_network_5plus']} | {d['top_town']} |")


if __name__ == "__main__":
    main()
