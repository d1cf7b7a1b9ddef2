"""Subject access (UK GDPR Art 15): the copy of a data subject's personal data, and the information
Art 15(1) requires beside it, answering an access request decided ``comply`` or ``partial``.

What the copy holds, per mention the request found (its matched mentions and those linked to them;
a ``partial`` decision names the mentions; possible matches -- same name, no date of birth to tell --
only when named): the list it came from (type, court, date), the hearing, the case's URN / number,
the subject's role, every identity and personal field as stored (a pseudonymised field says so;
the coarse attributes kept after expiry are given), the charges (wording with any complainant
replaced by "[a complainant]"), reporting restrictions recorded against them, convictions, and when
each class of their data is pseudonymised under the licence profile.  Complainant mentions (found
by the keyed token of a full name; complainants carry no date of birth, so a namesake's match as
well) are included only when named: the offence, its date, the hearing, with the subject's own
place in the wording as "[you]".

What it leaves out (Art 15(4): the rights and freedoms of others): co-defendants and every other
party, case names (they name defendants), list notes, other complainants, the members of a network.

Mentions linked to the subject's person since the request was opened (a later hearing) are added
to a ``comply`` copy and marked so: the copy is of what is held when it is made.

The copy is written as JSON and a self-contained HTML letter, owner-only (0600), both or neither;
the request is then ``done``; the audit event lists the mentions (ids) and the copy's sha256, never
a value.  A further copy can be made (Art 15(3)); each is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import jinja2
import orjson

from ..config import write_files
from ..model.declaration import ENTITIES
from ..store import governance as sg
from ..store.search import court_names
from . import audit
from .coarse import TOKEN_PREFIX
from .compliance import LAWFUL_BASES
from .policy import ROLES
from .profile import add_months, load
from .retention import _Held
from .rights import COMPLAINANT_LABEL, ERASED, NotFound, RightsError, _decided, _scope, _within, due

#: the party fields a copy gives (the model's identity and personal classes: declared once)
PARTY_FIELDS = tuple(f.name for f in ENTITIES["party"].fields
                     if f.stored and f.sensitivity in ("identity", "personal"))
PSEUDONYMISED = "[replaced by a keyed pseudonym]"
RIGHTS = (
    "to have inaccurate personal data rectified (UK GDPR Art 16)",
    "to erasure, where it applies (Art 17)",
    "to restriction of processing (Art 18)",
    "to object to processing based on legitimate interests (Art 21)",
    "to complain to the Information Commissioner's Office (ico.org.uk, 0303 123 1113)",
)
SOURCE = ("Court lists published by HM Courts & Tribunals Service (the Courts and Tribunals Hearings "
          "service, CaTH) and court registers; each record below names the list it came from.  We did "
          "not collect it from you.")
AUTOMATED = ("Mentions of the same person in different lists are linked by a statistical record-linkage "
             "model, to study patterns across cases.  No decision about you that has legal or similarly "
             "significant effects is made by it (UK GDPR Art 22).")


class AccessError(RightsError):
    pass


class NothingHeld(AccessError, NotFound):
    """The request found no mention of the subject to copy (the CLI's exit code 1: nothing found)."""


def _value(v):
    if isinstance(v, str) and v.startswith(TOKEN_PREFIX):
        return PSEUDONYMISED
    return v


def _wording(text: str | None, own: set[str]) -> str | None:
    """The wording with the subject's own complainant span as "[you]" and anyone else's as
    "[a complainant]" (the 8-hex label is itself derived from a keyed token: never given)."""
    if not text:
        return text
    return COMPLAINANT_LABEL.sub(lambda m: "[you]" if m.group(1) in own else "[a complainant]", text)


def _targets(req: dict, party_ids: list[int] | None, complainant_ids: list[int] | None) -> tuple[list[int], list[int]]:
    _within(req, party_ids, complainant_ids, undone="nothing written")
    if party_ids:
        parties = sorted(set(party_ids))
    elif req["decision"] == "partial":
        raise AccessError(f"request {req['id']} was decided partial: name the mentions the copy gives (--party)")
    else:
        parties = _scope(req)[0]
    return parties, sorted(set(complainant_ids or []))


def _past_due(due_on: dict[str, dt.date] | None, today: dt.date, hold: int | None) -> dict[str, str] | None:
    """Of the dates a raw mention's data is due to be pseudonymised (``pseudonymised_from``), those
    passed: {class: "held"} when a legal hold keeps the mention past it, else {class: "overdue"}
    (the archive's next retention run does it).  None when none has passed.  Without it, a copy
    made after such a date told the subject their name "is pseudonymised from" a day gone by."""
    passed = {cls: ("held" if hold else "overdue") for cls, d in (due_on or {}).items() if d <= today}
    return passed or None


def build(archive, request_id: int, *, party_ids: list[int] | None = None,
          complainant_ids: list[int] | None = None, profile=None, home: Path | None = None,
          now: dt.datetime | None = None) -> dict:
    """The copy for access request ``request_id`` (decided comply or partial), as a dict."""
    req = _decided(archive, request_id, "access")
    parties, complainants = _targets(req, party_ids, complainant_ids)
    prof = profile or load(home=home)
    now = now or sg.now()
    since: list[int] = []
    if req["decision"] == "comply" and not party_ids and parties:
        persons = set(sg.persons_of(archive, parties).values())
        since = sorted(set(sg.parties_of_persons(archive, persons)) - set(parties)) if persons else []
        parties = sorted(set(parties) | set(since))
    if not parties and not complainants:
        found = req.get("found") or {}
        maybe = [f"{what} {', '.join(map(str, ids))}" for what, ids in (
            ("possible match(es) (party mentions)", found.get("possible_party_ids")),
            ("complainant mention(s)", found.get("complainant_ids"))) if ids]
        if maybe:
            # not "nothing held": the subject's data may be there -- the answer is not a letter
            # saying none is, but a check with the subject and the mentions named
            raise AccessError(f"request {request_id} found no mention surely the subject's, but "
                              f"{' and '.join(maybe)} by name only (a namesake's would match too): check them "
                              "with the subject and name those that are theirs (--party ID, --complainant ID); "
                              "nothing written")
        raise NothingHeld(f"request {request_id} found no mention of the subject: nothing to copy "
                          "(a letter saying no personal data is held is written by hand)")
    rows = sg.subject_rows(archive, parties)
    pubs = sg.publication_info(archive, {p["publication_id"] for p in rows["party"]})
    # the court a list names for each hearing, else (a public list names it once, not per hearing)
    # the court the hearing sits in
    courts = court_names(archive, {h["court_id"] for h in rows["hearing"] if not h.get("court_name")})
    hearings = {h["id"]: {**h, "court_name": h.get("court_name") or courts.get(h.get("court_id"))}
                for h in rows["hearing"]}
    cases = {c["id"]: c for c in rows["case"]}
    coarse = {c["party_id"]: c for c in rows["party_coarse"]}
    per_party: dict[str, dict[int, list[dict]]] = {t: {} for t in ("offence", "restriction", "conviction")}
    for t in per_party:
        for r in rows[t]:
            per_party[t].setdefault(r["party_id"], []).append(r)
    months = {cls: prof.months(cls) for cls in ("identity", "personal")}
    with archive.engine.connect() as conn:
        held = _Held(sg.hold_scopes(archive, conn))
    mentions = []
    for p in sorted(rows["party"], key=lambda p: (hearings.get(p["hearing_id"], {}).get("sitting_date") or dt.date.min, p["id"])):
        h = hearings.get(p["hearing_id"]) or {}
        c = cases.get(p["case_id"]) or {}
        pub = pubs.get(p["publication_id"]) or {}
        listed = pub.get("content_date") or h.get("sitting_date")
        erased = p.get("name_as_listed") == ERASED
        mentions.append({
            "mention_id": p["id"],
            "role": p["role"],
            "list": {"type": pub.get("list_type"), "court": h.get("court_name"), "date": listed,
                     "sensitivity": pub.get("sensitivity")},
            "hearing": {"date": h.get("sitting_date"), "time": h.get("sitting_time"), "court": h.get("court_name"),
                        "type": h.get("hearing_type")},
            "case": {"urn": c.get("urn"), "case_number": c.get("case_number")} if c else None,
            "identity_pseudonymised": bool(p["pseudonymised"]),
            "erased": erased,
            "as_held": {f: _value(p.get(f)) for f in PARTY_FIELDS if p.get(f) is not None},
            "kept_after_pseudonymisation": ({k: coarse[p["id"]][k] for k in ("age_band", "outward_postcode",
                                                                               "police_force_area")
                                             if coarse[p["id"]].get(k)} if p["id"] in coarse else None),
            "pseudonymised_from": (due_on := None if p["pseudonymised"] or listed is None else
                                   {cls: add_months(listed, n) for cls, n in months.items()}),
            "past_due": _past_due(due_on, now.date(), held.party({**p, "_court_id": h.get("court_id")})),
            "charges": [{"code": o["code"], "title": o["title"], "legislation": o["legislation"],
                         "wording": _wording(o["wording"], set()), "offence_date": o["offence_date"],
                         "plea": o["plea"], "plea_date": o["plea_date"], "conviction_date": o["conviction_date"],
                         "reporting_restriction": o["reporting_restriction"],
                         "reporting_restriction_detail": o["reporting_restriction_detail"]}
                        for o in sorted(per_party["offence"].get(p["id"], []), key=lambda o: (o["seq"] or 0, o["id"]))],
            "reporting_restrictions": [{"law": r["law"], "scope": r["scope"], "from": r["start_date"],
                                        "ends": r["end_date"] or r["end_kind"], "lifted": r["lifted_at"]}
                                       for r in per_party["restriction"].get(p["id"], [])],
            "convictions": [{k: r[k] for k in ("offence_code", "conviction_date", "sentence_type", "custody_months",
                                               "sentence_end", "spent_on", "never_spent")}
                            for r in per_party["conviction"].get(p["id"], [])],
            "linked_since_request": p["id"] in since,
        })
    comp = []
    for r in sg.complainant_mentions(archive, complainants):
        own = {r["token"][:8]} if r["token"] else set()
        comp.append({"mention_id": r["id"], "held_as": "a keyed pseudonym (your name is not stored)",
                     "list": {"type": r["list_type"], "court": r["court_name"], "date": r["content_date"]},
                     "hearing": {"date": r["sitting_date"], "court": r["court_name"], "type": r["hearing_type"]},
                     "offence": {"code": r["code"], "title": r["title"], "legislation": r["legislation"],
                                 "offence_date": r["offence_date"], "wording": _wording(r["wording"], own)}})
    persons = sorted({pm["person_id"] for pm in rows["person_mention"]})
    networks = sg.networks_of_persons(archive, persons) if persons else []
    fields = {f for m in mentions for f in m["as_held"]}
    categories = [c for c, names in (
        ("name", {"title", "forenames", "middle_names", "surname", "name_as_listed"}),
        ("date of birth and age", {"date_of_birth", "age"}),
        ("address", {"address", "town", "county", "postcode"}),
        ("police identifiers (ASN, PNC)", {"asn", "pnc_id"}),
        ("gender and nationality", {"gender", "nationality"}),
        ("custody status", {"in_custody"})) if fields & names]
    if any(m["charges"] for m in mentions):
        categories.append("criminal offence data: charges, pleas and outcomes (UK GDPR Art 10)")
    if comp:
        categories.append("criminal offence data: that you are named as a complainant (pseudonymised)")
    received = req["received_at"]
    return {
        "request": {"id": request_id, "kind": "access", "received_at": received,
                    "respond_by": due(req),
                    "decision": req["decision"], "decided_at": req["decided_at"]},
        "made_at": now,
        "controller": prof.get("licence", "controller"),
        "purposes": [prof.get("licence", "use")],
        "lawful_bases": LAWFUL_BASES,
        "categories": categories,
        "recipients": [f"{name.replace('_', ' ')}: {r.doc}" for name, r in ROLES.items()],
        "retention": {"identity_months": months["identity"], "personal_months": months["personal"],
                      "text": (f"Your name is replaced by a keyed pseudonym {months['identity']} months after "
                               f"the list's date, and your other personal details {months['personal']} months after "
                               "it (date of birth and address deleted; an age band, outward postcode and police "
                               "force area kept), so that statistics across years remain possible without "
                               "your identity.")},
        "source": SOURCE,
        "automated_decision_making": AUTOMATED,
        "your_rights": list(RIGHTS),
        "mentions": mentions,
        "complainant_mentions": comp,
        "linked_analysis": {"persons": len(persons),
                            "networks": [{"kind": n["kind"], "people": n["size"], "cases": n["cases"]}
                                         for n in networks]},
        "left_out": ("Other people's data (Art 15(4)): co-defendants and other parties, case names, list notes, "
                     "complainants other than you, and the people in any network."),
    }


def write(archive, request_id: int, *, out: Path, actor: str, party_ids: list[int] | None = None,
          complainant_ids: list[int] | None = None, profile=None, home: Path | None = None) -> dict:
    """Build the copy, write ``access-<id>.json`` and ``access-<id>.html`` into ``out`` (owner-only;
    both or neither), audit it and mark the request done.  Returns what was written."""
    copy = build(archive, request_id, party_ids=party_ids, complainant_ids=complainant_ids, profile=profile,
                 home=home)
    data = orjson.dumps(copy, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(data).hexdigest()
    html = _HTML.render(c=copy, sha256=digest).encode()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AccessError(f"--out {out} is not a folder")
    names = {f"access-{request_id}.json": data, f"access-{request_id}.html": html}
    try:
        written = write_files(out, names, private=True)
    except OSError as e:
        raise AccessError(f"cannot write the copy to {out}: {e.strerror or e}") from None
    ids = [m["mention_id"] for m in copy["mentions"]]
    cids = [m["mention_id"] for m in copy["complainant_mentions"]]
    audit.record(archive, actor=actor, role="admin", action="rights_access", purpose="rights_request",
                 objects={"party": ids, "complainant": cids, "rights_request": [request_id]},
                 details={"mentions": len(ids), "complainant_mentions": len(cids), "sha256": digest,
                          "linked_since_request": sum(m["linked_since_request"] for m in copy["mentions"])})
    req = sg.get_rights_request(archive, request_id)
    found = dict(req.get("found") or {})
    found["access"] = (found.get("access") or []) + [{"made_at": copy["made_at"].isoformat(timespec="seconds"),
                                                      "sha256": digest, "party_ids": ids, "complainant_ids": cids}]
    sg.save_rights_request(archive, {"id": request_id, "found": found, "status": "done",
                                     "completed_at": req["completed_at"] or sg.now()})
    return {"request_id": request_id, "files": [str(p) for p in written], "sha256": digest, "mentions": len(ids),
            "pseudonymised": sum(m["identity_pseudonymised"] for m in copy["mentions"]),
            "linked_since_request": [m["mention_id"] for m in copy["mentions"] if m["linked_since_request"]],
            "complainant_mentions": len(cids), "copies": len(found["access"])}


_HTML = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your personal data: subject access request {{ c.request.id }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}section{border-top:1px solid #ddd;margin-top:1.5em}small{color:#555}</style></head><body>
<h1>Your personal data</h1>
<p>Subject access request {{ c.request.id }}, received {{ c.request.received_at.date() if c.request.received_at else "" }};
this copy made {{ c.made_at.strftime("%Y-%m-%d %H:%M") }}. Controller: {{ c.controller or "(see the licence)" }}.</p>
<h2>What we hold and why</h2>
<ul><li><b>Purposes:</b> {{ c.purposes|join("; ") }}</li>
<li><b>Lawful bases:</b><ul>{% for b in c.lawful_bases %}<li>{{ b.basis }} &mdash; {{ b.applies_to }}</li>{% endfor %}</ul></li>
<li><b>Categories of your data:</b> {{ c.categories|join("; ") or "none" }}</li>
<li><b>Who may see it:</b><ul>{% for r in c.recipients %}<li>{{ r }}</li>{% endfor %}</ul></li>
<li><b>How long:</b> {{ c.retention.text }}</li>
<li><b>Where it came from:</b> {{ c.source }}</li>
<li><b>Automated decisions:</b> {{ c.automated_decision_making }}</li></ul>
<p><b>Your rights:</b></p><ul>{% for r in c.your_rights %}<li>{{ r }}</li>{% endfor %}</ul>
<h2>Court lists naming you ({{ c.mentions|length }})</h2>
{% for m in c.mentions %}<section>
<h3>{{ m.list.type or "list" }}, {{ m.list.court or "" }}, {{ m.list.date or "" }}{% if m.linked_since_request %} <small>(linked to you since your request)</small>{% endif %}</h3>
<p>Role: {{ m.role }}. Hearing {{ m.hearing.date or "" }} {{ m.hearing.time or "" }} {{ m.hearing.type or "" }}{% if m.case %}; case {{ m.case.urn or m.case.case_number or "" }}{% endif %}.
{% if m.erased %}Erased at your request.{% elif m.identity_pseudonymised %}Your identity in this record has been replaced by a keyed pseudonym.{% elif m.pseudonymised_from %}{% for cls, what in (("identity", "Your name"), ("personal", "Your other details")) %}{% set on = m.pseudonymised_from[cls] %}{% set past = (m.past_due or {}).get(cls) %}{{ what }} {% if past == "held" %}was due to be pseudonymised on {{ on }}; it is kept past that date while a legal hold on this record lasts.{% elif past %}was due to be pseudonymised on {{ on }}; this is done at the archive's next retention run.{% else %}is pseudonymised from {{ on }}.{% endif %} {% endfor %}{% endif %}</p>
<table>{% for k, v in m.as_held.items() %}<tr><th>{{ k.replace("_", " ") }}</th><td>{{ v }}</td></tr>{% endfor %}
{% if m.kept_after_pseudonymisation %}{% for k, v in m.kept_after_pseudonymisation.items() %}<tr><th>{{ k.replace("_", " ") }} (kept)</th><td>{{ v }}</td></tr>{% endfor %}{% endif %}</table>
{% if m.charges %}<table><tr><th>code</th><th>offence</th><th>wording</th><th>offence date</th><th>plea</th><th>convicted</th><th>reporting restriction</th></tr>
{% for o in m.charges %}<tr><td>{{ o.code or "" }}</td><td>{{ o.title or "" }}<br><small>{{ o.legislation or "" }}</small></td><td>{{ o.wording or "" }}</td><td>{{ o.offence_date or "" }}</td><td>{{ o.plea or "" }} {{ o.plea_date or "" }}</td><td>{{ o.conviction_date or "" }}</td><td>{{ "yes" if o.reporting_restriction else "" }} {{ o.reporting_restriction_detail or "" }}</td></tr>{% endfor %}</table>{% endif %}
{% for r in m.reporting_restrictions %}<p>Reporting restriction recorded: {{ r.law }} ({{ r.scope }}), from {{ r.from or "" }}, ends {{ r.ends }}{% if r.lifted %}; lifted {{ r.lifted }}{% endif %}</p>{% endfor %}
{% for v in m.convictions %}<p>Conviction recorded: {{ v.conviction_date }} {{ v.offence_code or "" }}, {{ v.sentence_type }}{% if v.never_spent %}; never spent{% elif v.spent_on %}; spent on {{ v.spent_on }}{% endif %}</p>{% endfor %}
</section>{% endfor %}
{% if c.complainant_mentions %}<h2>Lists where you are named as a complainant ({{ c.complainant_mentions|length }})</h2>
<p>Complainants are never stored by name: each mention holds a keyed pseudonym.</p>
<table><tr><th>list</th><th>hearing</th><th>offence</th><th>offence date</th><th>wording</th></tr>
{% for m in c.complainant_mentions %}<tr><td>{{ m.list.type }}, {{ m.list.court }}, {{ m.list.date }}</td><td>{{ m.hearing.date }}</td><td>{{ m.offence.title or "" }}</td><td>{{ m.offence.offence_date or "" }}</td><td>{{ m.offence.wording or "" }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Analysis</h2>
<p>Your mentions are linked as {{ c.linked_analysis.persons }} person(s) in our analysis{% if c.linked_analysis.networks %}, in {{ c.linked_analysis.networks|length }} network(s) of linked defendants ({% for n in c.linked_analysis.networks %}{{ n.people }} people, {{ n.cases }} cases{% if not loop.last %}; {% endif %}{% endfor %}){% endif %}.</p>
<p><small>{{ c.left_out }} Copy fingerprint (sha256 of the JSON copy): {{ sha256 }}</small></p>
</body></html>""")
