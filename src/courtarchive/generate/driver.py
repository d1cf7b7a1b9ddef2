"""`generate`: the day-by-day loop.  Cases arrive (fresh or planted), their hearings wait in a heap,
each day's hearings become that day's lists, and a case is written to the truth tables and
forgotten after its last hearing -- memory holds the open cases only, never the corpus.

The lists are rendered and written by `render` -- in this process, or (big corpora, two CPUs or
more) in one child process fed day by day, in time order, so that building cases and writing lists
overlap; the bytes are the same either way.  The truth is *as listed* (see `truth`): a completion
that hinges on whether a court sits again waits until it does, or until the period ends.
"""

from __future__ import annotations

import gc
import heapq
import os
import random
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from ..analyse.definitions import IDENTIFYING_KINDS
from .cases import CROWN, MAGS, SJP, WARNED, Case
from .config import GenConfig
from .names import NamePools
from .offences import Catalogue
from .places import Places
from .planted import Factory
from .reference import load_reference
from .render import LocalRenderer, RemoteRenderer
from .truth import MENTION_TABLES, SCHEMAS, TruthSink, as_listed, compute_findings

__all__ = ["generate", "GENERATOR_VERSION"]

GENERATOR_VERSION = 3   # 2: a child victim's offences all happen while a child; 3: and fit their
                        # age and sex (`offences.victim_fits`)
AUTO_WORKER_CASES = 5_000          # from this many cases a rendering process pays for its start
DEFAULT_HOTSPOTS = ("Rochdale", "Rotherham", "Telford", "Oldham")
_VENUE_ORDER = {MAGS: 0, SJP: 1, CROWN: 2, WARNED: 3}


def _arrivals(n: int, start: date, last: date, seed: int) -> np.ndarray:
    """Cases per day (exactly n in all): weekdays busier, Christmas quiet."""
    days = (last - start).days + 1
    w = np.empty(days)
    for i in range(days):
        d = start + timedelta(days=i)
        w[i] = 0.15 if d.weekday() >= 5 else 1.0
        if (d.month == 12 and d.day >= 20) or (d.month == 1 and d.day <= 2):
            w[i] *= 0.3
    gen = np.random.Generator(np.random.PCG64(seed))
    return gen.multinomial(n, w / w.sum())


class _Run:
    def __init__(self, out: Path, cfg: GenConfig, seed: int, n: int, start: date, end: date,
                 hotspots: tuple[str, ...], render: LocalRenderer | RemoteRenderer):
        self.cfg, self.end = cfg, end
        ref = load_reference(cfg.data_dir)
        self.ref = ref
        unknown = [h for h in hotspots if h not in ref.town_by_name]
        if unknown:
            raise ValueError(f"hotspot towns not in towns.csv: {unknown}")
        self.hot = [ref.town_by_name[h] for h in hotspots]
        years = (end - start).days / 365.25
        self.places = Places(ref, n, years, random.Random(f"{seed}/places"), tuple(hotspots),
                             cfg.town_radius_km, cfg.mags_entries_per_sitting_day,
                             cfg.crown_entries_per_sitting_day)
        self.pools = NamePools(seed, ref.variants)
        # the last day a case may arrive: its first hearing must still fall in the period
        longest = max(p.period for p in self.places.mags + [self.places.sjp])
        # (a very short period leaves no such day for every court: then the cases that would be
        # first listed after the end are left out of the truth, see ``retire``)
        self.last_first = max(start, end - timedelta(days=7 * longest + 24))
        self.factory = Factory(cfg, ref, self.places, self.pools, Catalogue(ref),
                               random.Random(f"{seed}/cases"), start, self.last_first, self.hot)
        self.render = render
        if isinstance(render, LocalRenderer):
            self.sink = TruthSink(out)
            render.start(self.pools, self.sink)
        else:                               # the rendering process writes the mention tables
            self.sink = TruthSink(out, tuple(t for t in SCHEMAS if t not in MENTION_TABLES))
            render.start(self.pools)
        self.stats: dict = {}
        self.heap: list = []
        self._seq = 0
        self.open: dict[str, Case] = {}
        self.n_cases = self.n_hearings = self.unlisted = 0
        self.court_last: dict[str, date] = {}       # court fact id -> day of its latest list
        self.pending: dict[str, list] = {}          # court fact id -> heap of cases waiting on it
        self.finishing = False
        self.networks = self.factory.plan_networks(n)

    def add_case(self, c: Case) -> None:
        self.n_cases += 1
        self.open[c.case_id] = c
        self.render.add_case(c)
        for i, h in enumerate(c.hearings):
            self._seq += 1
            heapq.heappush(self.heap, (h.when.toordinal(), self._seq, c, i))

    def emit_day(self, day: date) -> None:
        o = day.toordinal()
        groups: dict[tuple, list] = {}
        heap = self.heap
        while heap and heap[0][0] <= o:
            _, _, c, i = heapq.heappop(heap)
            h = c.hearings[i]
            court = c.crown if h.venue in (CROWN, WARNED) else self.places.sjp if h.venue == SJP else c.mag
            groups.setdefault((_VENUE_ORDER[h.venue], court.court.idx), (court, []))[1].append((c, i))
            self.n_hearings += 1
            c.n_left -= 1
            if c.n_left == 0:
                self.retire(c)
        ordered = [(venue, court, entries) for (venue, _), (court, entries) in sorted(groups.items())]
        self.render.day(day, ordered)
        for venue, court, _ in ordered:
            if venue == 0 or venue == 2:        # magistrates' and Crown daily lists (not warned)
                self.court_sat(court.court.fact_id, day)

    def retire(self, c: Case) -> None:
        """Write the case's truth rows (as listed up to the end of the period) and forget it.

        A completion that depends on whether the court sits again (``Listed.settle``) waits in
        ``pending`` -- the rows only, not the case -- until the court has a list on or after that
        date (then it holds) or the period ends (then the case is open)."""
        del self.open[c.case_id]
        self.render.retire(c)
        end = self.end
        v = as_listed(c, end)
        if v is None:                       # never listed within the period: not in the truth
            self.unlisted += 1
            return
        actual, actual_done = c.outcome(end)
        res = c.defs[0].person.town
        mag = c.mag.court
        sjp_first = v.first.venue == SJP
        emitted = sum(1 for h in c.hearings if h.when <= end)
        case_row = [c.case_id, v.first.when, c.offence_date, None, None,
                    c.offence_town.name if c.offence_town else None, res.name if res else None,
                    None if sjp_first else mag.gazetteer_town,
                    c.offence_town.pfa if c.offence_town else None,
                    res.pfa if res else None, None if sjp_first else mag.pfa, c.kind, mag.fact_id,
                    c.crown.court.fact_id if c.crown is not None and c.crown_no else None,
                    c.network_id, c.youth, c.restriction, emitted, actual, actual_done]
        cds, offs, links = [], set(), set()
        defs = c.defs[:v.n_defs]
        # a complainant the case's lists name (or list as a party) is the same person wherever else
        # they are named; one shown only by initials is identified within this case alone
        named = {ch.victim.vid for d in defs for ch in d.charges if ch.victim is not None and ch.style == "named"}
        if c.complainant_party is not None:
            named.add(c.complainant_party.vid)

        def listed_id(vid: str) -> str:
            return vid if vid in named else f"{vid}@{c.case_id}"

        for d, conv in zip(defs, v.convictions):
            done = d.conviction_date is not None and d.conviction_date <= end
            result = d.result if (d.result == "convicted" and done) or actual is not None else None
            cds.append((c.case_id, d.person.pid, conv is not None, conv, result, d.person.youth,
                        d.conviction_date if result == "convicted" else None))
            for ch in d.charges:
                offs.add((c.case_id, d.person.pid, ch.offence.code))
                if ch.victim is not None and ch.style in IDENTIFYING_KINDS:   # listed so as to identify
                    links.add((c.case_id, d.person.pid, listed_id(ch.victim.vid)))
        if c.complainant_party is not None:
            for d in defs:
                links.add((c.case_id, d.person.pid, c.complainant_party.vid))
        rows = (case_row, cds, sorted(offs), sorted(links), v.status, v.last.when)
        if v.settle is None:
            self._write_case(rows, True)
            return
        court, when = v.settle
        seen = self.court_last.get(court)
        if seen is not None and seen >= when:
            self._write_case(rows, True)
        elif when > end or self.finishing:
            self._write_case(rows, False)
        else:
            self._seq += 1
            heapq.heappush(self.pending.setdefault(court, []), (when.toordinal(), self._seq, rows))

    def _write_case(self, rows: tuple, holds: bool) -> None:
        case_row, cds, offs, links, status, last = rows
        if holds and status is not None:
            case_row[3], case_row[4] = last, status
        sink = self.sink
        sink.add("cases", tuple(case_row))
        sink.extend("case_defendants", cds)
        sink.extend("case_offences", offs)
        sink.extend("offence_complainants", links)

    def court_sat(self, court: str, day: date) -> None:
        """A list of ``court`` for ``day`` was published: settle the cases waiting for it."""
        self.court_last[court] = day
        q = self.pending.get(court)
        if q:
            o = day.toordinal()
            while q and q[0][0] <= o:
                self._write_case(heapq.heappop(q)[2], True)

    def finish(self) -> None:
        self.finishing = True
        for c in list(self.open.values()):      # still open at the end: creation order
            self.retire(c)
        for court in sorted(self.pending):      # the court never sat again in the period: open
            q = self.pending[court]
            while q:
                self._write_case(heapq.heappop(q)[2], False)
        self.pending.clear()
        self.heap.clear()
        self.sink.extend("networks", sorted(self.factory.networks_built))
        self.sink.close()


def _write(run: _Run, cases: int, seed: int, start: date, end: date,
           progress: Callable[[int, int], None] | None) -> tuple[float, float, float]:
    counts = _arrivals(cases, start, run.last_first, seed)
    t1 = time.perf_counter()
    c1 = time.thread_time()
    fact = run.factory
    day, i = start, 0
    while day <= end:
        k = int(counts[i]) if i < len(counts) else 0
        for _ in range(k):
            due = fact.pop_due(day)
            run.add_case(fact.planted(day, *due) if due is not None else fact.fresh(day))
        run.emit_day(day)
        if progress is not None:
            progress(run.n_cases, cases)
        day += timedelta(days=1)
        i += 1
    run.stats = run.render.close()         # every list written (the rendering process done)
    t2 = time.perf_counter()
    run.lists_cpu = time.thread_time() - c1
    run.finish()
    return t1, t2, time.perf_counter()


def generate(out: Path | str, *, cases: int, seed: int, start: date = date(2019, 1, 1),
             years: float = 5, hotspots: tuple[str, ...] | list[str] = DEFAULT_HOTSPOTS,
             config: dict | GenConfig | None = None,
             progress: Callable[[int, int], None] | None = None, workers: int | None = None,
             formats: tuple[str, ...] | list[str] = ("json",)) -> dict:
    """Write a synthetic CaTH corpus of ``cases`` cases to ``out`` (lists/ + truth/ + truth.json).

    Deterministic for (cases, seed, start, years, hotspots, config): byte-identical files.
    Existing ``lists/``, ``truth/`` and ``truth.json`` under ``out`` are replaced.
    ``progress(done, total)`` is called as cases are created.  ``workers``: lists rendered in this
    process (0) or in one child process (1; default: by CPUs and size, see `_workers`) -- the
    same bytes either way.  ``formats``: besides the JSON lists (always written), ``pdf`` and/or
    ``xlsx`` copies of every list in CaTH's column layouts under ``out/pdf`` and ``out/xlsx``
    (`render_pdf.copies`).  Returns the summary dict."""
    if cases < 1:
        raise ValueError("cases must be >= 1")
    t0 = time.perf_counter()
    cfg = GenConfig.from_mapping(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in (out / "lists", out / "truth", out / "pdf", out / "xlsx"):
        if old.exists():
            shutil.rmtree(old)
    (out / "truth.json").unlink(missing_ok=True)
    end = start + timedelta(days=max(60, round(years * 365.25)) - 1)
    # the cyclic GC would rescan the open cases over and over (superlinear in N); the generator
    # makes no reference cycles that matter, so it is paused while the lists are written
    gc_was = gc.isenabled()
    gc.disable()
    n_workers = _workers(workers, cases)
    render = (RemoteRenderer if n_workers else LocalRenderer)(out, cfg, seed)
    try:
        run = _Run(out, cfg, seed, cases, start, end, tuple(hotspots), render)
        t1, t2, t3 = _write(run, cases, seed, start, end, progress)
    except BaseException:
        render.abort()
        raise
    finally:
        if gc_was:
            gc.enable()
    w = run.stats
    summary = {
        "cases": run.n_cases, "unlisted_cases": run.unlisted, "hearings": run.n_hearings,
        "entries": w["entries"], "files": w["files"],
        "lists_by_type": w["by_type"], "reissued_lists": w["reissued"],
        "defendant_mentions": w["mentions"]["defendant_mentions"],
        "complainant_mentions": w["mentions"]["complainant_mentions"],
        "networks_planted": run.networks,
        "magistrates_courts": len(run.places.mags), "crown_courts": len(run.places.crowns),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    findings = compute_findings(out / "truth", cfg.data_dir)
    truth = {
        "generator": {"name": "courtarchive.generate", "version": GENERATOR_VERSION, "seed": seed,
                      "cases": cases, "start": start.isoformat(), "years": years,
                      "hotspots": list(hotspots), "config": cfg.to_dict()},
        "summary": summary,
        "findings": findings,
        "files": {"lists": "lists", "truth": {t: f"truth/{t}.parquet" for t in SCHEMAS}},
    }
    (out / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    rendered = {}
    if set(formats) - {"json"}:
        from .render_pdf import copies

        rendered = copies(out, formats)
    t4 = time.perf_counter()
    # wall-clock timings are returned to the caller only, never written (output stays deterministic)
    timings = {"setup": t1 - t0, "lists": t2 - t1, "lists_main_thread_cpu": run.lists_cpu,
               "truth_tables": t3 - t2, "findings": t4 - t3, "total": t4 - t0}
    return {**summary, "findings": findings, "render_processes": n_workers, "copies": rendered,
            "timings": {k: round(v, 3) for k, v in timings.items()}}


def _workers(workers: int | None, cases: int) -> int:
    """Rendering processes: 0 (in this process) or 1.  Default: 1 when the corpus is big enough to
    repay starting a process and a second CPU is free (CPUs minus the 1-minute load average >= 1.5:
    on a busy machine the child would only compete for the same CPU); ``COURTARCHIVE_GEN_WORKERS``
    overrides.  The output is the same bytes either way."""
    if workers is None:
        env = os.environ.get("COURTARCHIVE_GEN_WORKERS")
        if env is not None and env.strip():
            workers = int(env)
        else:
            try:
                load = os.getloadavg()[0]
            except OSError:     # pragma: no cover - no load average on this platform
                load = 0.0
            spare = (os.cpu_count() or 1) - load
            workers = 1 if cases >= AUTO_WORKER_CASES and spare >= 1.5 else 0
    if workers not in (0, 1):
        raise ValueError("workers must be 0 (render in this process) or 1 (one rendering process)")
    return workers
