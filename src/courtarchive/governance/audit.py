"""The audit log: append-only and hash-chained (LAW.md rule 12: every personal-data access is an
event with user, purpose and record).

Each event's ``hash = sha256(prev_hash + "\\n" + canonical JSON of (seq, time, actor, role, action,
purpose, object, details))``; ``seq`` runs 1, 2, 3 ... without gaps.  `verify` walks the chain and
reports an edited row (hash mismatch), a deleted row (gap in seq, or a broken link), a reordered
chain (broken links) and, given an anchor (a head seq/hash kept outside the database, e.g. in the
compliance report), a truncated tail.  On both backends the database itself refuses UPDATE and
DELETE of audit rows (triggers created by migration 0003).

Events never carry a cleartext identity: objects are ``entity:id`` lists (long lists are summarised
by count and a sha256 of the ids), searches are recorded by keyed token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..store import governance as sg

MAX_IDS = 50


def objects_ref(objects: dict[str, list[int]] | None) -> str | None:
    """``party:1,2,3;case:5``; more than MAX_IDS ids of an entity -> ``party:#1200@<sha256[:16]>``."""
    if not objects:
        return None
    parts = []
    for ent in sorted(objects):
        ids = sorted({int(i) for i in objects[ent] if i is not None})
        if not ids:
            continue
        if len(ids) > MAX_IDS:
            digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
            parts.append(f"{ent}:#{len(ids)}@{digest}")
        else:
            parts.append(f"{ent}:{','.join(map(str, ids))}")
    return ";".join(parts) or None


def record(archive, *, actor: str, role: str, action: str, purpose: str | None = None,
           objects: dict[str, list[int]] | None = None, object: str | None = None,
           details: dict | None = None, conn=None) -> int:
    """Append an event; returns its seq."""
    return sg.append_audit(archive, actor=actor, role=role, action=action, purpose=purpose,
                           object=object if object is not None else objects_ref(objects),
                           details=details, conn=conn)


def refusal(archive, viewer, *, reason: str, **where) -> int:
    """A refused access is an access too: who, where (a web path or a command -- never what was
    typed, which can hold a name) and why; action ``refused``."""
    from .policy import DEFAULT_PURPOSE

    return record(archive, actor=viewer.username, role=viewer.effective_role(), action="refused",
                  purpose=DEFAULT_PURPOSE.get(viewer.role, "public_interest"),
                  details={**where, "reason": str(reason)[:300]})


@dataclass
class VerifyResult:
    events: int = 0
    head: dict | None = None
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head": self.head, "problems": self.problems}


def verify(archive, *, anchor: dict | None = None, max_problems: int = 100) -> VerifyResult:
    """Walk the chain; report every break.  ``anchor``: {"seq": n, "hash": h} kept elsewhere."""
    res = VerifyResult()
    prev_hash, expect = sg.GENESIS, 1
    anchored = False

    def problem(seq, kind, detail):
        if len(res.problems) < max_problems:
            res.problems.append({"seq": seq, "problem": kind, "detail": detail})

    for ev in sg.iter_audit(archive):
        res.events += 1
        seq = ev["seq"]
        if ev["id"] != seq:
            problem(seq, "edited", f"row id {ev['id']} differs from seq {seq}")
        if seq != expect:
            kind = "gap" if seq > expect else "reordered"
            problem(seq, kind, f"expected seq {expect}, found {seq}"
                    + (f" ({seq - expect} event(s) missing)" if seq > expect else ""))
        if ev["prev_hash"] != prev_hash:
            problem(seq, "broken_link", "prev_hash does not match the previous event's hash "
                                        "(an event before it was deleted, inserted or reordered)")
        if sg.audit_hash(ev["prev_hash"], ev) != ev["hash"]:
            problem(seq, "edited", "the event's content does not match its hash")
        if anchor and seq == anchor.get("seq"):
            anchored = True
            if ev["hash"] != anchor.get("hash"):
                problem(seq, "anchor_mismatch", "the anchored event's hash differs from the anchor")
        prev_hash, expect = ev["hash"], seq + 1
        res.head = {"seq": seq, "hash": ev["hash"]}
    if anchor and not anchored:
        problem(anchor.get("seq"), "truncated", "the anchored event is missing (tail deleted?)")
    return res


def head(archive) -> dict | None:
    return sg.audit_summary(archive)["head"]


def write_anchor(archive, path: str | Path) -> dict | None:
    """Write the chain head to a file kept outside the database (detects a deleted tail later)."""
    h = head(archive)
    Path(path).write_bytes(orjson.dumps(h))
    return h


def read_anchor(path: str | Path) -> dict | None:
    return orjson.loads(Path(path).read_bytes())
