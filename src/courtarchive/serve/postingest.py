"""What runs after every ingest - from the CLI, a web upload or mail intake: the search index
catches up with the new lists, then alerts for the new listings go out.  After a link run
(`courtarchive link run`) the search index takes the new person ids (``AFTER_LINK``), so that a
name search groups a person's mentions and gives the person to follow.

Each step is "module:function", called as ``f(archive, report)`` (``report`` is the ingest
`IngestReport`, or None when run on its own) and returning a dict for the caller to print.  A step
whose module is not installed is reported, not fatal; a step that fails is reported with its error
and the next one still runs (the ingest itself has already been committed).  A step also fails when
it returns a ``failed`` list, its own or a part's (the alerts' ``digests``: the SMTP server did not
take them; the matches stay queued).  `failures` words each failed step as the one line a command
prints -- the step, the cause, that the lists are archived and the command that runs the step again
(``RERUN``) -- and the command exits 1 (done in part).
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("courtarchive.serve")

STEPS = (
    "courtarchive.serve.search:refresh",
    "courtarchive.serve.alerts:after_ingest",
)
AFTER_LINK = (
    "courtarchive.serve.search:refresh",
)
#: each step as a message names it, and the command that runs it again on its own
RERUN = {
    "courtarchive.serve.search:refresh": ("search index refresh", "courtarchive search-index refresh"),
    "courtarchive.serve.alerts:after_ingest": ("alerts", "courtarchive alerts run"),
}


def run(archive, report=None, *, steps: tuple[str, ...] = STEPS) -> dict:
    out: dict = {}
    for spec in steps:
        mod, _, fn = spec.partition(":")
        try:
            f = getattr(importlib.import_module(mod), fn)
        except (ModuleNotFoundError, AttributeError) as e:
            out[spec] = {"skipped": f"not installed ({e})"}
            continue
        try:
            out[spec] = f(archive, report) or {}
        except Exception as e:  # the lists are archived; say what did not follow
            # (logged below WARNING: Python's last-resort handler would print the traceback on stderr
            # beside the caller's one line; a configured log keeps it.)  The first line of the
            # message only: a database error goes on with its SQL and parameters, listed data
            log.info("after-ingest step %s failed", spec, exc_info=True)
            out[spec] = {"error": _first_line(f"{type(e).__name__}: {e}")}
            continue
        res = out[spec]
        why = _failed(res) if isinstance(res, dict) else None
        if why and "error" not in res:
            res["error"] = why
    return out


#: what a step follows, and what stays done when it fails (`failures`)
AFTER = {"ingest": "the ingested lists are archived", "link": "the link run's persons and networks are saved"}


def failures(after: dict, *, stage: str = "ingest") -> dict[str, str]:
    """The steps of a `run` result that failed, each with the one line to print (``error: ...``),
    after ``stage`` (ingest, link)."""
    lines = {}
    for spec, res in after.items():
        if isinstance(res, dict) and "error" in res:
            name, again = RERUN.get(spec, (spec, None))
            lines[spec] = (f"error: after {stage}, step '{name}' failed: {res['error']}; {AFTER[stage]}: "
                           f"{f'run `{again}`' if again else 'run the step'} to do it again")
    return lines


def _failed(res: dict) -> str | None:
    """The first error of a ``failed`` list (or {what: error}) in a step's result or one of its
    parts (``digests: ...``), else None."""
    for part, r in ((None, res), *((k, v) for k, v in res.items() if isinstance(v, dict))):
        failed = r.get("failed")
        if failed and isinstance(failed, (list, dict)):
            first = failed[0] if isinstance(failed, list) else next(iter(failed.values()))
            why = first.get("error") if isinstance(first, dict) else first
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            return _first_line(f"{part + ': ' if part else ''}{why}{more}")
    return None


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0]
