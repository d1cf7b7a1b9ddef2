"""Where the link stage's memory goes: run `courtarchive link run --full` in this process and log
resident memory over time with the courtarchive line the main thread was on.

    COURTARCHIVE_HOME=... uv run python bench/link_memory.py [--step-mib 200] [--engine duckdb]
                                                  [--on-disk-rows N]

A sampler thread reads RSS every 50 ms; each time it has grown or fallen by --step-mib since the
last line it prints one line: seconds, RSS GiB, and the innermost courtarchive frame of the main
thread (file:line function).  The last line gives the peak.  It is a diagnostic for the scale work
of issue 9 (docs/scale.md), not a benchmark with a target.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback

import psutil


def _where(main_id: int) -> str:
    frame = sys._current_frames().get(main_id)
    if frame is None:
        return "?"
    stack = traceback.extract_stack(frame)
    own = [f for f in stack if "courtarchive" in f.filename and "bench" not in f.filename]
    f = (own or stack)[-1]
    return f"{f.filename.rsplit('courtarchive/', 1)[-1]}:{f.lineno} {f.name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step-mib", type=int, default=200)
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--on-disk-rows", type=int, help="override link.model.ON_DISK_ROWS (try the file-backed path)")
    a = ap.parse_args()
    from courtarchive.link import model as M, run as link_run

    if a.on_disk_rows is not None:
        M.ON_DISK_ROWS = a.on_disk_rows
    from courtarchive.store import Archive

    proc = psutil.Process(os.getpid())
    main_id = threading.main_thread().ident
    done = threading.Event()
    t0 = time.perf_counter()
    peak = [0, ""]

    def sample() -> None:
        last = 0
        while not done.is_set():
            rss = proc.memory_info().rss
            if rss > peak[0]:
                peak[0], peak[1] = rss, _where(main_id)
            if abs(rss - last) >= a.step_mib * 2**20:
                print(f"{time.perf_counter() - t0:8.1f} s {rss / 2**30:6.2f} GiB  {_where(main_id)}", flush=True)
                last = rss
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stats = link_run.run(Archive.open(), full=True, engine=a.engine)
    done.set()
    th.join()
    print(f"peak {peak[0] / 2**30:.2f} GiB at {peak[1]}; {stats['seconds']} s; "
          f"{stats['defendants']['mentions']} defendant mentions")


if __name__ == "__main__":
    main()
