"""Derived stores: the registry the expiry job and erasures cascade into.

Every stage that keeps a copy of archive data outside the archive tables (search index, linkage
inputs, exports cache, alert queues ...) registers a hook, either by naming it in the licence
profile (``[derived_stores] hooks = ["module:function", ...]``; a module that is not installed is
skipped and reported) or by calling `register` at import time.  A hook receives an `ExpiryEvent`
(which rows were pseudonymised or erased, when the run started) and must remove or rewrite its
copies of them; it returns a dict of counts for the run's record.  A hook that raises does not
stop the others (`run`); the run records it with the ids its event carried, and the next expiry (or
the erasure run again) retries it (`retention.retry_hooks`).  So does a run interrupted while its
hooks run (Ctrl-C): it records them as not finished before the first runs (`retention.run_hooks`).

The built-in hooks (`BUILT_IN`) each remove a copy of personal data that expiry or erasure
requires gone: they run whatever the profile lists.  A profile's list adds hooks to them (its own
stores), it cannot drop one -- a profile that lists its hooks replaces the default list, and one
written before a built-in existed, or cut down by hand, left copies of erased names behind.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger("courtarchive.governance")


@dataclass
class ExpiryEvent:
    archive: object
    run_id: int | None
    kind: str                                   # expire | erase | rectify
    started_at: dt.datetime
    party_ids: list[int] = field(default_factory=list)
    hearing_ids: list[int] = field(default_factory=list)
    offence_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    publication_ids: list[int] = field(default_factory=list)
    home: Path | None = None
    profile: object = None
    dry_run: bool = False

    @property
    def touched(self) -> bool:
        return bool(self.party_ids or self.hearing_ids or self.offence_ids or self.case_ids or self.publication_ids)


Hook = Callable[[ExpiryEvent], dict]
_REGISTRY: dict[str, Hook] = {}


def register(name: str, hook: Hook) -> None:
    _REGISTRY[name] = hook


def registered() -> dict[str, Hook]:
    return dict(_REGISTRY)


#: the built-in hooks, run whatever the licence profile lists: the exports cache (files of disclosed
#: names and dates of birth), reviewers' notes on pairs of mentions, the screening and analysis
#: caches (names, dates of birth, addresses), the name search index (names, birth years, towns)
#: and the alert queue (unsent matches tying a followed name to a listing)
BUILT_IN = ("courtarchive.governance.hooks:exports_cache",
            "courtarchive.governance.hooks:linkage_inputs",
            "courtarchive.governance.hooks:screening_cache",
            "courtarchive.governance.hooks:analysis_cache",
            "courtarchive.serve.search:governance_hook",
            "courtarchive.serve.alerts:governance_hook")


def resolve(specs: list[str]) -> tuple[dict[str, Hook], list[str]]:
    """The hooks the profile names, then the built-ins it does not (`BUILT_IN`), then registered
    ones; returns (hooks, specs not installed)."""
    hooks, missing = {}, []
    for spec in [*specs, *(s for s in BUILT_IN if s not in specs)]:
        mod, _, fn = spec.partition(":")
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                missing.append(spec)
                continue
            raise
        f = getattr(m, fn or "governance_hook", None)
        if f is None:
            missing.append(spec)
            continue
        hooks[spec] = f
    for name, f in _REGISTRY.items():
        hooks.setdefault(name, f)
    return hooks, missing


def run(event: ExpiryEvent, specs: list[str], *, only=None, skip=(), starting=None) -> dict:
    """Run the hooks (`resolve`; ``only``: just these names, ``skip``: not these functions), every
    one even after one raised -- a failure must not leave the later stores' copies behind.  Returns
    each hook's counts, ``not_installed`` and ``failed`` ({hook: error}): the error is the
    exception's type only, as its message may quote a value of the data purged.  ``starting`` is
    called with the names of the hooks to run before the first runs (`retention.run_hooks`); an
    interrupt (KeyboardInterrupt) is not a hook's failure: it stops the run and is raised on."""
    hooks, missing = resolve(specs)
    hooks = {name: f for name, f in hooks.items() if (only is None or name in only) and f not in skip}
    if starting is not None:
        starting(list(hooks))
    out: dict = {"not_installed": missing}
    failed: dict[str, str] = {}
    for name, f in hooks.items():
        try:
            out[name] = f(event) or {}
        except Exception as e:
            failed[name] = type(e).__name__
            log.error("derived store %s failed (%s): its copies stay until the hook is retried", name,
                      type(e).__name__)
            continue
        log.info("derived store %s: %s", name, out[name])
    out["failed"] = failed
    return out


#: the ids of an event a run keeps while one of its hooks failed: enough to run the hook again
EVENT_IDS = ("party_ids", "hearing_ids", "offence_ids", "case_ids", "publication_ids")


def event_ids(ev: ExpiryEvent) -> dict[str, list[int]]:
    """What a run stores to rebuild its event for a retry (`retention.retry_hooks`): the ids only."""
    return {k: list(getattr(ev, k)) for k in EVENT_IDS if getattr(ev, k)}


# --------------------------------------------------------------------------- built-in hooks
def shred(path: Path) -> bool:
    """Overwrite a file with zeros, flush, then unlink it."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def exports_cache(ev: ExpiryEvent) -> dict:
    """Exports made before the run may hold data that has now expired: shred them (registered
    exports and any file in the exports cache folder older than the run)."""
    from ..store import governance as sg

    if ev.dry_run or not ev.touched:
        return {"purged": 0}
    purged = 0
    for e in sg.exports(ev.archive, unpurged_before=ev.started_at):
        if e.get("path") and shred(Path(e["path"])):
            purged += 1
        sg.update_export(ev.archive, e["id"], purged_at=sg.now())
    if ev.home is not None and ev.profile is not None:
        folder = ev.profile.exports_dir(Path(ev.home))
        if folder.exists():
            cutoff = ev.started_at.replace(tzinfo=dt.timezone.utc).timestamp()
            for p in folder.rglob("*"):
                if p.is_file() and p.stat().st_mtime < cutoff and shred(p):
                    purged += 1
    return {"purged": purged}


def screening_cache_dir(home: Path) -> Path:
    """Where bulk name screening (`link.screen`) keeps its standardised candidates per link run."""
    return Path(home) / "cache" / "screen"


def analysis_cache_dir(home: Path) -> Path:
    """Where the analysis stage keeps its derived inputs (`analyse.inputs.from_archive`)."""
    return Path(home) / "cache" / "analyse"


#: a file in a cache folder that each purge rewrites (`purge_cache`)
PURGE_MARK = "purged"


def purge_mark(folder: Path) -> str | None:
    """A cache folder's purge mark (None: never purged)."""
    try:
        return (Path(folder) / PURGE_MARK).read_text()
    except FileNotFoundError:
        return None




def shred_tree(path: Path) -> int:
    """Shred a file, or every file under a folder and then the emptied folders: the files shredded."""
    path = Path(path)
    if not path.is_dir():
        return int(shred(path))
    n = 0
    for p in sorted(path.rglob("*"), reverse=True) + [path]:     # (a folder's files before the folder)
        if p.is_dir():
            try:
                p.rmdir()
            except OSError:     # (a writer's new file: the purge mark tells it to drop it)
                pass
        else:
            n += shred(p)
    return n


def purge_cache(folder: Path) -> int:
    """Shred everything in a cache folder of the archive's data, its purge mark rewritten first: a
    writer that read the archive before the change and writes its cache meanwhile sees the mark
    change and drops what it wrote.  Returns the files shredded."""
    import secrets

    from ..config import private_dir

    folder = private_dir(folder)
    (folder / PURGE_MARK).write_text(secrets.token_hex(16))
    return sum(shred_tree(p) for p in list(folder.iterdir()) if p.name != PURGE_MARK)


def screening_cache(ev: ExpiryEvent) -> dict:
    """Screening's candidate cache is a copy of every current defendant mention's names, date of
    birth, postcode, town, ASN and PNC as they were when it was made: once a mention is expired,
    erased or rectified the copy must go (shredded; the next screening builds it again from the
    archive; a screening that read the archive before the change drops the cache it wrote across
    it: `link.screen.candidates_from_archive`)."""
    if ev.dry_run or not ev.party_ids or ev.home is None:
        return {"purged": 0}
    return {"purged": purge_cache(screening_cache_dir(ev.home))}


def analysis_cache(ev: ExpiryEvent) -> dict:
    """The analysis's cached inputs hold the links of the mentions and, without a link run,
    defendants keyed by name and date of birth and complainants by token, as they were when
    cached: once a mention is expired, erased or rectified they must go (shredded; the next
    analysis derives them again; one that read the archive before the change drops what it wrote
    across it: `analyse.inputs.from_archive`)."""
    if ev.dry_run or not ev.touched or ev.home is None:
        return {"purged": 0}
    return {"purged": purge_cache(analysis_cache_dir(ev.home))}


def linkage_inputs(ev: ExpiryEvent) -> dict:
    """Reviewers' free-text notes on pairs of expired mentions may quote names: cleared."""
    from ..store import governance as sg

    if ev.dry_run or not ev.party_ids:
        return {"review_notes_cleared": 0}
    return {"review_notes_cleared": sg.clear_review_notes(ev.archive, ev.party_ids)}
