"""What runs after every ingest - from the CLI, a web upload or mail intake: the search index
catches up with the new lists, then alerts for the new listings go out.  After a link run
(`courtarchive link run`) the search index takes the new person ids (``AFTER_LINK``), so that a
name search groups a person's mentions and gives the person to follow.

Each step is "module:function", called as ``f(archive, report)`` (``report`` is the ingest
`IngestReport`, or None when run on its own) and returning a dict for the caller to print.  A step
whose module is not installed is reported, not fatal; a step that fails is reported with its error
and the next one still runs (the ingest itself has already been committed).
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
            log.exception("after-ingest step %s failed", spec)
            out[spec] = {"error": f"{type(e).__name__}: {e}"}
    return out
