"""Distribution policy: who may receive data, where it may go, and who may process it.

- Alerts and exports only to verified accounts (roles with ``may_receive``; verified media need a
  valid verification) -- issue 7 §9, LAW.md rules 9-10.
- Recipient domains: free webmail refused unless an admin approved the domain; outside the
  journalist's own organisation (its e-mail domain) and its legal advisers (profile) refused
  (LAW.md rule 10: no passing to third parties, HMCTS media protocol).
- Exports go through the disclosure gate, are written to the exports cache, carry a per-user
  watermark (keyed, verifiable) and are recorded (`export_record`) so expiry can purge them.
- External processors (hosted AI, OCR, cloud) receive personal data only if the licence profile
  names them for those data classes (LAW.md rule 11); every use is audited.
"""

from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path

import orjson

from ..store import governance as sg
from ..store.engine import writing
from . import audit
from .gate import disclose
from .policy import ROLES, Viewer


class DistributionError(PermissionError):
    pass


def domain_of(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower().rstrip(".")


def check_receiver(viewer: Viewer, now: dt.datetime | None = None) -> None:
    role = viewer.effective_role(now)
    if not ROLES[role].may_receive:
        raise DistributionError(f"{viewer.username}: alerts and exports go to verified accounts only "
                                f"(effective role {role})")


def check_recipient(archive, viewer: Viewer, recipient: str, *, profile, now: dt.datetime | None = None) -> str:
    """Raise unless ``recipient`` may receive data sent by ``viewer``; returns the domain."""
    check_receiver(viewer, now)
    dom = domain_of(recipient)
    if dom is None:
        raise DistributionError(f"not an e-mail address: {recipient!r}")
    approved = {d["domain"] for d in sg.approved_domains(archive)}
    free = {d.lower() for d in profile.get("distribution", "free_webmail", [])}
    if dom in free and dom not in approved:
        raise DistributionError(f"{dom} is a free webmail domain: refused unless an admin approves it")
    own = domain_of(viewer.email)
    advisers = {d.lower() for d in profile.get("distribution", "legal_adviser_domains", [])}
    if viewer.effective_role(now) != "admin" and dom != own and dom not in advisers and dom not in approved:
        raise DistributionError(f"{dom} is outside {viewer.username}'s organisation and its legal advisers "
                                "(LAW.md rule 10: no passing to third parties)")
    return dom


def approve_domain(archive, *, domain: str, actor: str, reason: str, organisation: str | None = None) -> int:
    if not reason.strip():
        raise DistributionError("approving a recipient domain needs a reason")
    with writing(archive.engine) as conn:
        did = sg.approve_domain(archive, domain=domain, organisation=organisation, approved_by=actor, reason=reason,
                                conn=conn)
        audit.record(archive, actor=actor, role="admin", action="domain_approve", purpose="administration",
                     objects={"domain_approval": [did]}, details={"domain": domain.lower()}, conn=conn)
    return did


# --------------------------------------------------------------------------- watermarks
def _mac(keyring, export_id: int, username: str, day: str) -> str:
    return keyring.token("watermark", f"{export_id}|{username}|{day}")[:16]


def watermark(keyring, *, export_id: int, viewer: Viewer, day: dt.date | None = None) -> str:
    day_s = (day or dt.date.today()).isoformat()
    org = viewer.organisation or "-"
    return f"courtarchive export #{export_id} for {viewer.username} ({org}) {day_s} wm:{_mac(keyring, export_id, viewer.username, day_s)}"


def verify_watermark(keyring, text: str) -> bool:
    try:
        head, mac = text.rsplit(" wm:", 1)
        parts = head.split()
        export_id = int(parts[2].lstrip("#"))
        username, day_s = parts[4], parts[-1]
    except (ValueError, IndexError):
        return False
    return hmac.compare_digest(mac, _mac(keyring, export_id, username, day_s))


# --------------------------------------------------------------------------- exports
def export(archive, records, viewer: Viewer, *, purpose: str, keyring, profile, home: Path, what: str = "records",
           recipient: str | None = None, kind: str = "export", now: dt.datetime | None = None,
           context: dict | None = None) -> dict:
    """Disclose ``records`` to ``viewer`` and write them (JSON lines, first line the watermark) to the
    exports cache; recorded so expiry can purge the file.  Returns {path, rows, watermark, id}."""
    check_receiver(viewer, now)
    dom = check_recipient(archive, viewer, recipient, profile=profile, now=now) if recipient else None
    d = disclose(records, viewer, purpose=purpose,
                 context={"archive": archive, "keyring": keyring, "profile": profile, "output": kind,
                          "now": now, **(context or {})})
    eid = sg.record_export(archive, {"username": viewer.username, "role": d.role, "kind": kind, "what": what,
                                     "rows": len(d.records), "recipient": recipient, "recipient_domain": dom})
    wm = watermark(keyring, export_id=eid, viewer=viewer, day=(now or dt.datetime.now()).date())
    from ..config import private_dir, private_file

    # (disclosed personal data: the exports cache is the owner's only -- folders 0700, files 0600)
    folder = private_dir(private_dir(profile.exports_dir(Path(home))) / viewer.username)
    path = folder / f"{kind}-{eid}.jsonl"
    with open(private_file(path), "wb") as fh:
        fh.write(orjson.dumps({"watermark": wm, "flags": d.flags}, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        for r in d.records:
            fh.write(orjson.dumps({**r, "_watermark": wm[-19:]}, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    sg.update_export(archive, eid, path=str(path), watermark=wm)
    return {"id": eid, "path": path, "rows": len(d.records), "watermark": wm, "flags": d.flags,
            "withheld": dict(d.withheld)}


# --------------------------------------------------------------------------- processors
def check_processor(archive, profile, *, name: str, data_classes: list[str], actor: str, purpose: str) -> dict:
    """Allow an external processor only if the profile names it for every data class it would get."""
    named = {p["name"]: p for p in profile.processors}
    p = named.get(name)
    allowed = set((p or {}).get("data_classes", []))
    personal = [c for c in data_classes if c in ("identity", "personal", "wording", "never", "unknown")]
    ok = "never" not in personal and (not personal or (p is not None and set(personal) <= allowed))
    audit.record(archive, actor=actor, role="admin", action="processor_use" if ok else "processor_refused",
                 purpose=purpose, details={"processor": name, "data_classes": sorted(data_classes)})
    if not ok:
        raise DistributionError(f"processor {name!r} is not named in the licence profile for {sorted(personal)} "
                                "(LAW.md rule 11): no personal data may go to it")
    return p
