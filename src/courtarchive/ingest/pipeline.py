"""Ingest: files -> parse (pure) -> intake gate (pseudonymise complainants) -> store.

Each file is atomic: files are written in groups (one executemany / COPY per table per group,
one transaction), and a group that fails is written again file by file, each in a savepoint, so
that only the bad file is rejected.  A file that cannot be read, parsed or validated is rejected with a
reason naming the file and the JSON path, recorded in the quarantine, and nothing of it is
written; the other files go on.  The same file twice changes nothing (content hash).
Memory does not grow with the number of files: files are streamed one at a time (parsing runs
in worker processes when `workers > 1`, with a bounded number of files in flight).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import os
import pickle
import tempfile
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Union

import msgspec
import orjson

from ..governance.pseudonym import Keyring
from ..model import ParsedList
from ..model.records import Complainant, Hearing, Offence, Party, PublicationMeta, RawComplainant
from ..store import Archive
from ..store import bulk as store_bulk
from . import gate
from .cath import settle_court_codes
from .errors import Rejected

#: file suffixes ingest reads, and the format of each
FORMATS = {".json": "cath-json", ".csv": "csv", ".pdf": "pdf", ".xlsx": "xlsx"}
#: the parser of each format ("module:function"; called as f(data, source_name=, headers=, list_type=,
#: max_bytes=) and returning a ParsedList, raising ingest.errors.Rejected for bad input)
PARSERS = {
    "cath-json": "courtarchive.ingest.cath:parse_document",
    "csv": "courtarchive.ingest.csv_register:parse_csv",
    "pdf": "courtarchive.ingest.pdf:parse_pdf",
    "xlsx": "courtarchive.ingest.xlsx:parse_xlsx",
}
SIDECAR = ".meta.json"
#: a file named on the command line with one of these suffixes: what to do instead
CONVERT = {".xls": "an Excel 97-2003 workbook: save it as .xlsx", ".xlsm": "save it as .xlsx",
           ".htm": "save the list as .pdf", ".html": "save the list as .pdf"}


@dataclass
class FileOutcome:
    file: str
    status: str                        # accepted | duplicate | rejected
    reason: str | None = None
    json_path: str | None = None
    hearings: int = 0
    publication_id: int | None = None
    complainants: int = 0
    unparsed_complainant_refs: int = 0


@dataclass
class IngestReport:
    files: int = 0
    accepted: int = 0
    duplicates: int = 0
    hearings: int = 0
    complainants: int = 0
    rejected: list[dict] = field(default_factory=list)
    #: `--bulk`: what was taken off and put back (counts, seconds); else what an interrupted bulk
    #: load had left off and this ingest put back first; None when neither
    bulk: dict | None = None

    def add(self, o: FileOutcome) -> None:
        self.files += 1
        if o.status == "accepted":
            self.accepted += 1
            self.hearings += o.hearings
            self.complainants += o.complainants
        elif o.status == "duplicate":
            self.duplicates += 1
        else:
            self.rejected.append({"file": o.file, "reason": o.reason, "json_path": o.json_path})

    def as_dict(self) -> dict:
        d = {"files": self.files, "accepted": self.accepted, "duplicates": self.duplicates,
             "rejected": self.rejected, "hearings": self.hearings, "complainants": self.complainants}
        if self.bulk is not None:
            d["bulk"] = self.bulk
        return d


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files to ingest, in a stable order: the paths given, folders walked recursively.
    Sidecars (`<file>.meta.json`) are metadata, not lists, and are skipped -- also when named
    on the command line (a shell glob such as ``lists/*.json`` names them)."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):      # (tested on the name: a Path made only for a file kept)
                    if not is_sidecar(name) and os.path.splitext(name)[1].lower() in FORMATS:
                        yield Path(root, name)
        elif not is_sidecar(p.name):
            yield p


def is_sidecar(name: str) -> bool:
    """A sidecar's file name: ``<name>.meta.json``, the suffix in any case (``.META.JSON`` too, as
    `file_format` reads a list's suffix)."""
    return name.lower().endswith(SIDECAR)


class InputFiles:
    """The files `iter_input_files` finds, from one walk of the folders: how many
    (``len``), their `formats`, and the files again, in the same order, each time this is
    iterated -- kept in an unnamed temporary file, not in memory, so that checking the options
    (`check_options`), counting for a progress bar and ingesting do not walk the folders once
    each nor hold a long list.  A file added or removed after the walk is not seen (or is
    rejected as unreadable).  Close it (or use it as a context manager) when done."""

    def __init__(self, paths: Iterable[str | Path]):
        self._spill = tempfile.TemporaryFile()
        self._count = 0
        formats: set[str] = set()
        for f in iter_input_files(paths):
            self._spill.write(os.fsencode(f) + b"\0")        # NUL: the one byte a path cannot hold
            self._count += 1
            try:
                formats.add(file_format(f))
            except Rejected:          # a named file of another suffix has no format: it is rejected
                pass
        self._spill.flush()
        #: the formats among the files
        self.formats = frozenset(formats)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Path]:
        fd, offset, rest = self._spill.fileno(), 0, b""
        while chunk := os.pread(fd, 1 << 16, offset):
            offset += len(chunk)
            *names, rest = (rest + chunk).split(b"\0")
            for name in names:
                yield Path(os.fsdecode(name))

    def close(self) -> None:
        self._spill.close()

    def __enter__(self) -> "InputFiles":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_format(f: Path) -> str:
    """The format of a file to ingest, by its suffix (`FORMATS`, any case).  A file without one
    (as CaTH's API serves a publication) is read as CaTH JSON; any other suffix is Rejected --
    it was parsed as JSON and refused as "malformed JSON" (or stored, if it held JSON).  Folders
    only give files with a suffix of `FORMATS` (`iter_input_files`): this is for files named."""
    suffix = f.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if not suffix:
        return "cath-json"
    what = f"unsupported file type {suffix}" + (f" ({CONVERT[suffix]})" if suffix in CONVERT else "")
    raise Rejected(f"{what}: ingest reads CaTH JSON (.json, or no extension), CSV registers (.csv) and "
                   "PDF or Excel lists (.pdf, .xlsx)", None)


#: how long a folder must have been left unchanged before its listing is the whole truth: a file
#: added within the same tick of the file system's clock (a jiffy on ext4, 2 s on FAT) leaves the
#: folder's mtime as it was, so a listing taken that soon after a change may miss it
_SETTLED_NS = 2_000_000_000


@functools.lru_cache(maxsize=64)
def _sidecar_names(folder: str, mtime_ns: int, settled: bool) -> dict[str, str] | None:
    """The sidecars in ``folder`` as it was at ``mtime_ns`` (a file added or removed changes it):
    the name each annotates -> its own, the suffix in any case, ``.meta.json`` as written before
    another case of it.  One listing per folder, not one per file of it.  ``settled`` (the folder
    unchanged for `_SETTLED_NS` when asked) is of the key only: it keeps a listing taken too soon
    after a change, which may miss a file added in the same tick, apart from one taken later, which
    answers alone.  None when the folder cannot be listed."""
    try:
        listed = os.listdir(folder)
    except OSError:
        return None
    names: dict[str, str] = {}
    for n in listed:
        if is_sidecar(n):
            base = n[:-len(SIDECAR)]
            if n.endswith(SIDECAR) or not names.get(base, "").endswith(SIDECAR):
                names[base] = n
    return names


def _find_sidecars(f: Path, bases: tuple[str, ...]) -> Iterator[Path]:
    """The sidecar of each of ``bases`` (file names) beside ``f`` that has one, in that order:
    ``<base>.meta.json``, else its suffix in another case (``<base>.META.JSON``).  The folder is
    stat'ed once: when it has been unchanged a while, its listing (cached) answers alone; else each
    ``<base>.meta.json`` is looked for on disk (a listing taken just now may miss it) and the
    listing answers only for the other cases."""
    folder = str(f.parent)
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        names = None
    else:
        settled = time.time_ns() - mtime > _SETTLED_NS
        names = _sidecar_names(folder, mtime, settled)
        if settled and names is not None:
            yield from (f.with_name(names[b]) for b in bases if b in names)
            return
    for base in bases:
        exact = f.with_name(base + SIDECAR)
        if exact.exists():
            yield exact
        elif names and base in names:
            yield f.with_name(names[base])


def read_sidecar(f: Path) -> dict:
    """Headers from `<stem>.meta.json` (for `<stem>.json`) or `<name>.meta.json`, if present (the
    suffixes in any case)."""
    bases = ((f.stem,) if f.suffix.lower() == ".json" else ()) + (f.name,)
    for cand in _find_sidecars(f, bases):
        try:
            meta = orjson.loads(cand.read_bytes())
        except orjson.JSONDecodeError as e:
            raise Rejected(f"sidecar {cand.name} is not valid JSON: {e}", None) from None
        if not isinstance(meta, dict):
            raise Rejected(f"sidecar {cand.name} must hold a JSON object of headers", None)
        return {str(k).lower(): v for k, v in meta.items()}
    return {}


#: the `courtarchive ingest` option of each CaTH header
OPTIONS = {"x-list-type": "--list-type", "x-sensitivity": "--sensitivity", "x-content-date": "--content-date",
           "x-court-id": "--court-id", "x-language": "--language", "x-provenance": "--provenance",
           "x-display-from": "--display-from", "x-display-to": "--display-to"}
_OPTION_HINTS = {"x-content-date": " (use YYYY-MM-DD)",
                 "x-display-from": " (use YYYY-MM-DD or an ISO date-time such as 2024-03-04T06:00:00Z)",
                 "x-display-to": " (use YYYY-MM-DD or an ISO date-time such as 2024-03-04T06:00:00Z)"}


def check_options(headers: dict, formats: Iterable[str] | None = ()) -> None:
    """The CaTH headers given as options of `courtarchive ingest` or `courtarchive intake`
    (``{"x-sensitivity": ...}``), checked once before any file is read: Rejected, its reason
    naming the option, for a value no file could take -- as the header would reject every file
    (`cath.check_headers`).  ``formats``: those of the files to ingest (`InputFiles.formats`),
    or None when they are not known before the files are read (mail attachments).  A list type
    CaTH does not define is refused unless every file is a CSV register (which may carry any
    list type name) -- always when the formats are not known; a list type without a declared
    PDF/Excel layout is refused when a PDF or Excel file is among the files."""
    from .cath import LIST_TYPES, check_headers, court_id_header

    for header, value in headers.items():
        option = OPTIONS.get(header, header)
        if header == "x-court-id":
            court_id_header(value, option)      # its own wording: close matches, codes of courts
        try:
            checked = check_headers({header: value}, known_list_type=False)
        except Rejected as e:
            reason = e.reason.replace(f"header {header}", option).replace(header, option)
            if option not in reason:
                reason = f"{option}: {reason}"
            raise Rejected(reason + _OPTION_HINTS.get(header, ""), None) from None
        if header == "x-list-type":
            name = checked.get("list_type") or ""
            known = None if formats is None else set(formats)
            if not name or (name not in LIST_TYPES and (known is None or known - {"csv"})):
                import difflib

                close = difflib.get_close_matches(name, list(LIST_TYPES), n=3, cutoff=0.6)
                raise Rejected(f"{option}: {name or '(empty)'} is not a CaTH list type"
                               + (f" (did you mean {', '.join(close)}?)" if close else "")
                               + ("; only a CSV register may carry a list type name of its own" if known is not None
                                  else "; attachments are not known before they are read, so only a CaTH list "
                                       "type can be given (a CSV register's own name: in its .meta.json sidecar)"),
                               None)
            if known and known & {"pdf", "xlsx"}:
                from .layouts import layout_for, layouts

                if layout_for(name) is None:
                    raise Rejected(f"{option}: no PDF/Excel layout is declared for {name} (layouts: "
                                   f"{', '.join(sorted(layouts()))}; docs/intake-layouts.md)", None)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_file(data: bytes, *, source_name: str, headers: dict, list_type: str | None,
               fmt: str, max_bytes: int) -> ParsedList:
    import importlib

    mod, _, fn = PARSERS.get(fmt, PARSERS["cath-json"]).partition(":")
    try:
        parser = getattr(importlib.import_module(mod), fn)
    except (ModuleNotFoundError, AttributeError):
        raise Rejected(f"no parser for {fmt} files in this installation", None) from None
    parsed = parser(data, source_name=source_name, headers=headers, list_type=list_type, max_bytes=max_bytes)
    settle_court_codes(parsed)          # a Crown court code several courts share: the one meant, or Rejected
    return parsed


# ----------------------------------------------------------------- worker side (pure, no DB)
#: the cyclic garbage collector's thresholds while ingesting (writer and workers; Python's
#: default is (700, 10, 10)).  Parsing and writing allocate tens of container objects per entry
#: and keep a group of files alive until it is written, so the default collected every few dozen
#: entries, again and again over the same live objects: ≈ 10 % of ingest CPU (bench/RESULTS.md).
#: Only when garbage is collected changes, not what is parsed or written.
GC_THRESHOLD = (50_000, 20, 20)
_KEYRING: Keyring | None = None
_SEEN: Callable[[str], int | None] | None = None


def _init_worker(key: bytes, old_keys: list, seen: str | Callable[[str], int | None]) -> None:
    """Per worker: the keyring, and a look-up of archived hashes (a database URL to open, or the
    function itself) so that files already in the archive are not parsed again."""
    global _KEYRING, _SEEN
    gc.set_threshold(*GC_THRESHOLD)
    _KEYRING = Keyring(key, old_keys=old_keys)
    _SEEN = Archive.open(seen).publication_lookup() if isinstance(seen, str) else seen


def shown_name(path: str | Path) -> str:
    """A file's path as it is stored (publication source name, quarantine) and reported: a name
    that is not valid UTF-8 (Linux gives its bytes as surrogates) with those bytes as ``\\xe9`` --
    as it was, the surrogates reached the database and the whole ingest stopped with a traceback."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _prepare(task: tuple) -> tuple:
    """Read, parse and gate one file. Returns (path, hash, parsed | None, rejection | None), the
    path as `shown_name` gives it."""
    real, headers_override, list_type, max_bytes = task
    f = Path(real)
    path = shown_name(real)
    try:
        fmt = file_format(f)          # before anything is read
        size = f.stat().st_size
        if size > max_bytes:
            raise Rejected(f"file is {size} bytes, over the {max_bytes}-byte limit", None)
        data = f.read_bytes()
        h = content_hash(data)
        if _SEEN is not None and (pub := _SEEN(h)) is not None:
            return path, h, None, None, pub
        headers = read_sidecar(f)
        headers.update(headers_override)
        try:
            parsed = parse_file(data, source_name=shown_name(f.name), headers=headers, list_type=list_type, fmt=fmt,
                                max_bytes=max_bytes)
        except Rejected as e:
            if not f.suffix and e.json_path in (None, "$"):     # the whole file refused: say how it was read
                e.reason = f"read as CaTH JSON (the file has no extension): {e.reason}"
            raise
        parsed.meta.source_name = str(path)
        parsed.meta.source_format = fmt
        report = gate.apply(parsed, _KEYRING, memo=True)
        return path, h, parsed, None, report
    except Rejected as e:       # (a sidecar's name in the reason: as shown)
        return path, locals().get("h"), None, (shown_name(e.reason), e.json_path), None
    except OSError as e:
        return path, None, None, (f"cannot read file: {e.strerror or e}", None), None
    except RecursionError:
        return path, locals().get("h"), None, ("document nested too deeply", None), None
    except Exception as e:  # a parser defect must not stop the run, nor pass silently
        return path, locals().get("h"), None, (f"internal parser error ({type(e).__name__}: {e})", None), None


# ----------------------------------------------------------------- worker -> writer, as msgpack
class _WireList(msgspec.Struct, kw_only=True):
    """`ParsedList` with its record lists typed, so that msgpack decodes them into the records."""

    meta: PublicationMeta
    hearings: list[Hearing] = msgspec.field(default_factory=list)
    parties: list[Party] = msgspec.field(default_factory=list)
    offences: list[Offence] = msgspec.field(default_factory=list)
    complainants: list[Complainant] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    raw_complainants: list[RawComplainant] = msgspec.field(default_factory=list)


class _Wire(msgspec.Struct, array_like=True):
    path: str
    h: Optional[str]
    parsed: Optional[_WireList]
    rejection: Optional[tuple[str, Optional[str]]]
    report: Union[int, dict, None]       # the GateReport as_dict(), or a duplicate's publication id


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Wire)
_MSGPACK, _PICKLE = b"M", b"P"


def _from_wire(w: _Wire) -> tuple:
    parsed = None if w.parsed is None else ParsedList(**msgspec.structs.asdict(w.parsed))
    report = w.report
    if isinstance(report, dict):
        report = gate.GateReport(report["offences_scanned"], report["offences_redacted"],
                                 Counter(report["complainants"]), Counter(report["unparsed"]),
                                 report["fields_scrubbed"])
    return w.path, w.h, parsed, w.rejection, report


def dump_result(result: tuple) -> bytes:
    """One `_prepare` result as bytes for the trip from a parser worker to the writer: msgpack
    (msgspec), ≈ 2× cheaper than pickle in the worker, ≈ 5× in the writer.  The worker decodes its own bytes and
    sends them only if that gives back exactly what it made (records, their types, the gate
    report); anything else -- a value of an unexpected type in a record, say -- goes as pickle."""
    path, h, parsed, rejection, report = result
    try:
        if parsed is not None and any(isinstance(v, dt.datetime) and v.tzinfo is not None
                                      for v in msgspec.structs.astuple(parsed.meta)):
            raise ValueError("msgpack would bring an aware date-time back in UTC")   # equal, not the same
        wire = _Wire(path, h, parsed, None if rejection is None else tuple(rejection),
                     report.as_dict() if isinstance(report, gate.GateReport) else report)
        data = _ENCODER.encode(wire)
        if _from_wire(_DECODER.decode(data)) == result:
            return _MSGPACK + data
    except (TypeError, ValueError, msgspec.MsgspecError):
        pass
    return _PICKLE + pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def load_result(data: bytes) -> tuple:
    """The `_prepare` result `dump_result` turned into ``data``."""
    if data[:1] == _MSGPACK:
        return _from_wire(_DECODER.decode(memoryview(data)[1:]))
    return pickle.loads(memoryview(data)[1:])


def _prepare_wire(task: tuple) -> bytes:
    """`_prepare` in a worker process, its result as `dump_result` bytes."""
    return dump_result(_prepare(task))


# ----------------------------------------------------------------- driver
#: an ingest of at least this many hearing entries refreshes every table's planner statistics
ANALYZE_AFTER_HEARINGS = 50_000
#: files each parser worker may have in flight (submitted, parsed or waiting for the writer).  A
#: group write takes ~0.2-0.4 s (Writer: 200 files, 50k rows or 1 s); with 32 files per worker the
#: workers filled the window in ~60 ms and then sat idle until the writer came back, so only ~70 %
#: of the two cores worked.  128 keeps them parsing through a group write: +18 % entries/s on
#: SQLite, +20 % on PostgreSQL, +0.01 GiB RSS (bench/RESULTS.md, session 11).
WINDOW_PER_WORKER = 128


def ingest(archive: Archive, paths: Iterable[str | Path], *, keyring: Keyring,
           headers: dict | None = None, list_type: str | None = None, workers: int = 1,
           max_bytes: int = 200 * 1024 * 1024,
           on_file: Callable[[FileOutcome], None] | None = None, bulk: bool = False) -> IngestReport:
    """Ingest files or folders (or the files of an `InputFiles`, not walked again) into the
    archive. Returns a report; never raises for bad input.

    ``bulk``: a first load or a backfill far larger than the archive -- the bulk tables' secondary
    indexes (PostgreSQL: and foreign keys) are taken off while writing and built (checked) once at
    the end (`store.bulk`; `BulkLoadBusy` when another process is bulk-loading the archive).
    Without it, what a bulk load that died took off is put back first (`report.bulk`)."""
    archive.require_initialised()
    gc_before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        if not bulk:
            restored = store_bulk.restore_interrupted(archive)
            report = _ingest(archive, paths, keyring=keyring, headers=headers, list_type=list_type,
                             workers=workers, max_bytes=max_bytes, on_file=on_file)
            if restored:
                report.bulk = {"restored_interrupted": restored}
        else:
            with store_bulk.loading(archive) as state:
                report = _ingest(archive, paths, keyring=keyring, headers=headers, list_type=list_type,
                                 workers=workers, max_bytes=max_bytes, on_file=on_file)
            report.bulk = state
    finally:
        gc.set_threshold(*gc_before)
        gate.forget()           # the gate's memos hold cleartext names: not kept past the ingest
    # (PostgreSQL: planner statistics for the tables a bulk load filled -- after their indexes are
    # back; SQLite: nothing)
    archive.analyze(force=report.hearings >= ANALYZE_AFTER_HEARINGS)
    return report


def _ingest(archive: Archive, paths: Iterable[str | Path], *, keyring: Keyring, headers: dict | None,
            list_type: str | None, workers: int, max_bytes: int,
            on_file: Callable[[FileOutcome], None] | None) -> IngestReport:
    headers = {str(k).lower(): v for k, v in (headers or {}).items()}
    report = IngestReport()
    files = paths if isinstance(paths, InputFiles) else iter_input_files(paths)
    tasks = ((str(p), headers, list_type, max_bytes) for p in files)

    # outcomes are reported in file order; a stored file's outcome is known once its group is written
    slots: deque = deque()

    def settle(done: list) -> None:
        for (slot, path, h, gate_report), res in done:
            if isinstance(res, Exception):   # e.g. a constraint the parser did not foresee: reject the file
                first = (str(res).splitlines() or [""])[0]
                reason = f"store refused the document ({type(res).__name__}: {first})"
                w.quarantine(source_name=path, reason=reason, content_hash=h)
                slot[0] = FileOutcome(path, "rejected", reason=reason)
            else:
                slot[0] = FileOutcome(path, res.status, hearings=res.hearings, publication_id=res.publication_id,
                                      complainants=res.complainants,
                                      unparsed_complainant_refs=getattr(gate_report, "unparsed_total", 0))
        while slots and slots[0][0] is not None:
            o = slots.popleft()[0]
            report.add(o)
            if on_file:
                on_file(o)

    def handle(result) -> None:
        path, h, parsed, rejection, gate_report = result
        slot: list = [None]
        slots.append(slot)
        if parsed is None and rejection is None:  # already archived: nothing to parse or write
            slot[0] = FileOutcome(path, "duplicate", publication_id=gate_report)
        elif rejection is not None:
            reason, jp = rejection
            w.quarantine(source_name=path, reason=reason, json_path=jp, content_hash=h)
            slot[0] = FileOutcome(path, "rejected", reason=reason, json_path=jp)
        else:
            # queued: written with other files in one go (Archive.writer / Writer.add), each file atomic
            settle(w.add(parsed, content_hash=h, tag=(slot, path, h, gate_report)))
            return
        settle([])

    with archive.writer() as w:
        if workers <= 1:
            seen = archive.publication_lookup()
            try:
                _init_worker(keyring.key, keyring.old_keys, seen)
                for t in tasks:
                    handle(_prepare(t))
            finally:
                seen.close()
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(keyring.key, keyring.old_keys, archive.url)) as pool:
                # bounded in-flight window: memory stays flat however many files there are; wide
                # enough that the workers keep parsing while a group is being written
                window = workers * WINDOW_PER_WORKER
                pending: deque = deque()
                for t in tasks:
                    pending.append(pool.submit(_prepare_wire, t))
                    if len(pending) >= window:
                        handle(load_result(pending.popleft().result()))
                while pending:
                    handle(load_result(pending.popleft().result()))
        settle(w.flush())
    return report
