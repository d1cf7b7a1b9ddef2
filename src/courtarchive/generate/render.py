"""Rendering the day's lists: in the driver's process (`LocalRenderer`) or in one child process fed
in time order (`RemoteRenderer`), so that building cases and rendering / writing lists overlap.

Either way the same `ListWriter` renders the same lists in the same order with the same random
stream (``Random(f"{seed}/lists")``), so the output is byte-identical whichever is used.  The child
receives each case once, when it is created (a compact tuple, `encode_case`), then per day the
groups to render as (venue, court index, [(case id, hearing index)]) and the cases it may forget.
It writes the list files and the mention truth tables (``defendant_mentions``,
``complainant_mentions``); the driver writes the other truth tables.

One rendering process, not a pool: the list random stream is one sequence in time order (several
processes would need a stream per list, a different corpus for the same seed).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import pickle
import queue
import random
import threading
import traceback
from datetime import date
from pathlib import Path

from .cases import Case, CaseDefendant, Charge, Hearing
from .config import GenConfig
from .lists import LIST_TYPES, ListWriter
from .names import NamePools, Person, Victim
from .places import SJP_COURT, CourtPlan
from .reference import load_reference
from .truth import MENTION_TABLES, TruthSink

__all__ = ["LocalRenderer", "RemoteRenderer", "encode_case", "decode_case", "render_day"]

MAGS_V, SJP_V, CROWN_V, WARNED_V = 0, 1, 2, 3
QUEUE_BYTES = 48 << 20              # how far (pickled bytes) the driver may run ahead of the
                                    # renderer: enough to hide the child's start-up


def render_day(w: ListWriter, day: date, groups: list) -> None:
    """``groups``: [(venue, CourtPlan, [(case, hearing)])] in list order."""
    for venue, plan, entries in groups:
        if venue == MAGS_V:
            w.mags(day, plan, entries)
        elif venue == SJP_V:
            w.sjp(day, plan, entries)
        elif venue == CROWN_V:
            w.crown_daily(day, plan, entries)
            firm = [(c, h) for c, h in entries if h.firm]
            if firm:
                w.crown_firm(day, plan, firm)
        else:
            w.crown_warned(day, plan, entries)


def _stats(w: ListWriter, sink: TruthSink) -> dict:
    return {"files": w.files, "entries": w.entries, "by_type": {t: w.by_type[t] for t in LIST_TYPES},
            "reissued": w.reissued, "mentions": {t: sink.counts[t] + len(sink.rows[t]) for t in MENTION_TABLES}}


class LocalRenderer:
    """Renders in this process (small corpora, or one CPU)."""

    def __init__(self, out: Path, cfg: GenConfig, seed: int):
        self.out, self.cfg, self.seed = out, cfg, seed

    def start(self, pools: NamePools, sink: TruthSink) -> None:
        self.sink = sink
        self.w = ListWriter(self.out, self.cfg, random.Random(f"{self.seed}/lists"), pools, sink)

    def add_case(self, c: Case) -> None:
        pass

    def retire(self, c: Case) -> None:
        pass

    def day(self, day: date, groups: list) -> None:
        render_day(self.w, day, [(v, p, [(c, c.hearings[i]) for c, i in e]) for v, p, e in groups])

    def close(self) -> dict:
        self.w.close()
        return _stats(self.w, self.sink)

    def abort(self) -> None:
        pass


# ------------------------------------------------------------------ the wire format
def _victim(v: Victim | None):
    return None if v is None else (v.vid, v.fore, v.sur, v.gender, v.dob)


def encode_case(c: Case) -> tuple:
    """What the renderer needs of a case, as plain tuples (courts, towns and offences by index)."""
    defs = []
    for d in c.defs:
        p = d.person
        person = (p.pid, p.fore, p.middle, p.sur, p.gender, p.dob, None if p.town is None else p.town.idx,
                  p.house, p.street, p.postcode, p.asn, p.pnc, p.addr_version, p.youth, p.n_cases)
        defs.append((person, [(ch.offence.code, ch.wording, _victim(ch.victim), ch.style) for ch in d.charges],
                     d.asn, d.custody, d.pleas, d.result, d.conviction_date))
    return (c.case_id, c.kind, c.mag.court.idx, None if c.crown is None else c.crown.court.idx,
            c.offence_date, None if c.offence_town is None else c.offence_town.idx, c.first_hearing, c.youth,
            c.restriction, _victim(c.complainant_party), c.crown_no, c.network_id, defs,
            [(h.when, h.venue, h.desc, h.code, h.final, h.firm, h.fixed, h.target) for h in c.hearings])


class _Decoder:
    def __init__(self, data_dir: str | None):
        self.ref = load_reference(data_dir)
        self.plans: dict[int, CourtPlan] = {-1: CourtPlan(SJP_COURT, 1.0)}

    def plan(self, idx: int) -> CourtPlan:
        p = self.plans.get(idx)
        if p is None:
            p = self.plans[idx] = CourtPlan(self.ref.courts[idx], 1.0)
        return p

    @staticmethod
    def victim(t) -> Victim | None:
        return None if t is None else Victim(*t)

    def case(self, t: tuple) -> Case:
        (case_id, kind, mag, crown, offence_date, town, first, youth, restriction, party, crown_no,
         network_id, defs, hearings) = t
        ref, towns, offences = self.ref, self.ref.towns, self.ref.offence_by_code
        out = []
        for person, charges, asn, custody, pleas, result, conv in defs:
            (pid, fore, middle, sur, gender, dob, ptown, house, street, postcode, pasn, pnc, addr_version,
             pyouth, n_cases) = person
            p = Person(pid, fore, middle, sur, gender, dob, None if ptown is None else towns[ptown], house,
                       street, postcode, pasn, pnc, addr_version, pyouth, n_cases)
            chs = [Charge(offences[code], wording, self.victim(v), style) for code, wording, v, style in charges]
            out.append(CaseDefendant(p, chs, asn, custody, pleas, result, conv))
        return Case(case_id, kind, self.plan(mag), None if crown is None else self.plan(crown), offence_date,
                    None if town is None else ref.towns[town], out, first, youth, restriction,
                    self.victim(party), crown_no, network_id,
                    [Hearing(*h) for h in hearings], len(hearings))


def decode_case(t: tuple, data_dir: str | None = None) -> Case:
    """The inverse of `encode_case` (tests)."""
    return _Decoder(data_dir).case(t)


# ------------------------------------------------------------------ the rendering process
def _worker(conn, out: str, cfg: GenConfig, seed: int) -> None:
    gc.disable()            # as in the driver: many live objects, no cycles worth collecting
    try:
        dec = _Decoder(cfg.data_dir)
        loads, recv, fromord = pickle.loads, conn.recv_bytes, date.fromordinal
        pools = loads(recv())                # the driver's name pools: the first message
        sink = TruthSink(Path(out), MENTION_TABLES)
        w = ListWriter(Path(out), cfg, random.Random(f"{seed}/lists"), pools, sink)
        cases: dict[str, Case] = {}
        while True:
            msg = loads(recv())
            if msg is None:
                break
            o, new, groups, gone = msg
            for t in new:
                c = dec.case(t)
                cases[c.case_id] = c
            if groups:
                render_day(w, fromord(o), [(v, dec.plan(idx), [(cases[cid], cases[cid].hearings[i]) for cid, i in e])
                                           for v, idx, e in groups])
            for cid in gone:
                del cases[cid]
        w.close()
        sink.close()
        conn.send(("ok", _stats(w, sink)))
    except BaseException:  # noqa: BLE001 - reported to the driver, which raises
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        conn.close()


class RemoteRenderer:
    """Renders in one child process; the driver sends each day's work as soon as it is known."""

    def __init__(self, out: Path, cfg: GenConfig, seed: int):
        """Starts the child (its imports overlap the driver's set-up); `start` hands it the
        name pools."""
        ctx = mp.get_context("spawn")       # a clean interpreter: the driver has threads (polars, I/O)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, str(out), cfg, seed),
                                name="courtarchive-generate-render", daemon=True)
        self.proc.start()
        child.close()
        self.q: queue.Queue = queue.Queue()
        self.room = threading.Condition()
        self.queued = 0                     # bytes in ``q``
        self.error: BaseException | None = None
        self.sender = threading.Thread(target=self._send, name="courtarchive-generate-send", daemon=True)
        self.sender.start()
        self.new: list = []
        self.gone: list = []

    def start(self, pools: NamePools) -> None:
        self._put(pickle.dumps(pools, protocol=pickle.HIGHEST_PROTOCOL))

    def _put(self, b: bytes) -> None:
        with self.room:
            while self.queued > QUEUE_BYTES and self.error is None:
                self.room.wait(1.0)
            self.queued += len(b)
        self.q.put(b)

    def _send(self) -> None:
        while True:
            b = self.q.get()
            if self.error is None:
                try:
                    self.conn.send_bytes(b)
                except BaseException as e:  # noqa: BLE001 - the child died; raised in the driver
                    self.error = e
            with self.room:
                self.queued -= len(b)
                self.room.notify()
            if b is _END:
                return

    def add_case(self, c: Case) -> None:
        self.new.append(encode_case(c))

    def retire(self, c: Case) -> None:
        self.gone.append(c.case_id)

    def day(self, day: date, groups: list) -> None:
        if not (groups or self.new or self.gone):
            return
        if self.error is not None:
            self._fail()
        msg = (day.toordinal(), self.new,
               [(v, p.court.idx, [(c.case_id, i) for c, i in e]) for v, p, e in groups], self.gone)
        self.new, self.gone = [], []
        self._put(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))

    def close(self) -> dict:
        self._put(_END)
        self.sender.join()
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            status, payload = "error", f"the rendering process ended (exit code {self.proc.exitcode})"
        self.proc.join()
        self.conn.close()
        if status != "ok":
            raise RuntimeError(f"list rendering failed:\n{payload}")
        return payload

    def _fail(self) -> None:
        try:
            status, payload = self.conn.recv() if self.conn.poll(5) else ("error", repr(self.error))
        except (EOFError, OSError):
            payload = repr(self.error)
        self.abort()
        raise RuntimeError(f"list rendering failed:\n{payload}")

    def abort(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)


_END = pickle.dumps(None)
