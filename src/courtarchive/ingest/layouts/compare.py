"""Round-trip measurement: the defendant entries of one archive against another's, field by field.

Used by tests/test_intake_pdf.py, tests/test_intake_xlsx.py and bench/intake_roundtrip.py: the
same corpus ingested as CaTH JSON into one archive and as PDF (or Excel) copies into another; each
defendant entry of the JSON archive is looked up in the other and every field compared.

A *defendant entry* is one DEFENDANT party at one hearing entry of one publication, with:
its publication's list type, content date and court (resolved court id); the hearing's fields
(court, date, time, room, hearing type, judiciary, panel, case URN and number, originating court,
prosecutor, notes, reporting restriction and detail ...); the party's fields (title, forenames,
middle names, surname, organisation, name as listed, date of birth, age, gender, address, town,
county, postcode, ASN, PNC id, custody, masked ...); its offences in order (sequence, code, title,
wording -- as stored, i.e. after the intake gate --, legislation, maximum penalty, plea and its
date, conviction and adjournment dates, restriction); and the complainant tokens the intake gate
made for the hearing.  Entries are matched by (list type, content date, court, published time,
version, entry number in the list, defendant number in the entry).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

_SKIP = {"id", "publication_id", "hearing_id", "case_id", "party_id", "json_path", "pseudonymised",
         "hearing_ref", "party_ref", "role"}


def _rows(archive, name: str) -> list[dict]:
    return archive.to_arrow(name).to_pylist()


def defendant_entries(archive) -> dict[tuple, dict[str, Any]]:
    """Every defendant entry of the archive, keyed as the module docstring says."""
    pubs = {p["id"]: p for p in _rows(archive, "publication")}
    cases = {c["id"]: c for c in _rows(archive, "case")}
    hearings = _rows(archive, "hearing")
    parties = _rows(archive, "party")
    offences_of: dict[int, list] = defaultdict(list)
    for o in _rows(archive, "offence"):
        offences_of[o["party_id"]].append(o)
    comps_of: dict[int, list] = defaultdict(list)
    for c in _rows(archive, "complainant"):
        comps_of[c["hearing_id"]].append((c["kind"], c["token"], c["initials_token"]))
    defs_of: dict[int, list] = defaultdict(list)
    for p in parties:
        if p["role"] == "DEFENDANT":
            defs_of[p["hearing_id"]].append(p)
    n_of: Counter = Counter()
    out: dict[tuple, dict] = {}
    for h in sorted(hearings, key=lambda r: r["id"]):
        pub = pubs[h["publication_id"]]
        pkey = (pub["list_type"], pub["content_date"], pub["court_id"], pub["published_at"], pub["version"])
        n_of[pkey] += 1
        case = cases.get(h["case_id"]) or {}
        hearing = {f"hearing.{k}": v for k, v in h.items() if k not in _SKIP}
        hearing["case.urn"] = case.get("urn")
        hearing["publication.list_type"] = pub["list_type"]
        hearing["publication.content_date"] = pub["content_date"]
        hearing["publication.court_id"] = pub["court_id"]
        hearing["complainants"] = sorted(comps_of.get(h["id"], []), key=str)
        for d_no, p in enumerate(sorted(defs_of.get(h["id"], []), key=lambda r: r["id"]), start=1):
            e = dict(hearing)
            e.update({f"party.{k}": v for k, v in p.items() if k not in _SKIP})
            offs = sorted(offences_of.get(p["id"], []), key=lambda r: r["id"])
            e["offence.count"] = len(offs)
            for o in offs:
                for k, v in o.items():
                    if k not in _SKIP:
                        e.setdefault(f"offence.{k}", []).append(v)
            out[pkey + (n_of[pkey], d_no)] = e
    return out


def compare(reference: dict, other: dict) -> dict:
    """How many reference entries `other` holds with every field equal; which fields differ."""
    equal = 0
    missing = 0
    differs: Counter = Counter()
    examples: dict[str, tuple] = {}
    for key, ref in reference.items():
        got = other.get(key)
        if got is None:
            missing += 1
            continue
        bad = [f for f in sorted(set(ref) | set(got)) if ref.get(f) != got.get(f)]
        if not bad:
            equal += 1
        for f in bad:
            differs[f] += 1
            examples.setdefault(f, (key, ref.get(f), got.get(f)))
    n = len(reference)
    return {"entries": n, "equal": equal, "missing": missing, "extra": len(set(other) - set(reference)),
            "share_equal": equal / n if n else 1.0, "fields_differing": dict(differs.most_common()),
            "examples": {f: repr(x)[:300] for f, x in examples.items()},
            "fields_compared": sorted({f for e in reference.values() for f in e})}


def roundtrip(work, *, cases: int, seed: int, years: float = 0.5, formats: tuple[str, ...] = ("pdf", "xlsx"),
              workers: int = 1, keyring=None) -> dict:
    """Generate a corpus in ``work``, render its lists to `formats`, ingest the JSON lists and each
    format's copies into fresh SQLite archives (same pseudonym key), and compare.  Returns
    ``{"corpus": {...}, "json": ingest report, "<fmt>": {"ingest": ..., "seconds": ..., **compare}}``."""
    import time
    from pathlib import Path

    from ...generate.driver import generate
    from ...generate.render_pdf import copies
    from ...governance.pseudonym import Keyring
    from ...store import Archive
    from ..pipeline import ingest

    work = Path(work)
    keyring = keyring or Keyring(bytes(range(32)))
    summary = generate(work / "corpus", cases=cases, seed=seed, years=years, workers=0)
    t = time.perf_counter()
    written = copies(work / "corpus", formats)
    render_s = time.perf_counter() - t
    out: dict = {"corpus": {"cases": cases, "lists": summary["files"], "entries": summary["entries"],
                            "rendered": written, "render_seconds": round(render_s, 2)}}

    def run(name: str, folder: Path) -> tuple[dict, dict, float]:
        a = Archive.open(f"sqlite:///{work / (name + '.db')}")
        a.init()
        t0 = time.perf_counter()
        rep = ingest(a, [folder], keyring=keyring, workers=workers)
        secs = time.perf_counter() - t0
        entries = defendant_entries(a)
        a.close()
        return rep.as_dict(), entries, secs

    rep, ref, secs = run("json", work / "corpus" / "lists")
    out["json"] = {"ingest": {k: rep[k] for k in ("files", "accepted", "duplicates", "hearings")},
                   "rejected": rep["rejected"][:5], "seconds": round(secs, 2), "defendant_entries": len(ref),
                   "entries_by_list_type": dict(sorted(Counter(k[0] for k in ref).items()))}
    for fmt in formats:
        rep, got, secs = run(fmt, work / "corpus" / fmt)
        res = compare(ref, got)
        res.pop("fields_compared")
        out[fmt] = {"ingest": {k: rep[k] for k in ("files", "accepted", "duplicates", "hearings")},
                    "rejected": rep["rejected"][:5], "seconds": round(secs, 2), **res}
    out["fields_compared"] = sorted({f for e in ref.values() for f in e})
    return out
