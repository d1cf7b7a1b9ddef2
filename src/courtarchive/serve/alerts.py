"""Alerts: subscriptions, matching the new listings after every ingest, e-mail digests.

A journalist follows a **name** (fuzzy), a **URN**, a **court**, an **offence group**, a saved
**search** (a name, a URN / case number or offence words as the search page reads them -- see
`search_mode` -- plus facets; or the facets alone), or tracks a **case**, a linked **person** or a
**network** (issue 8 §4, issue 10 §3).  After every ingest (`courtarchive.serve.postingest` calls
`after_ingest`) the hearings of the newly ingested lists are matched against the active
subscriptions; each hit becomes an ``alert_match`` row with the event it is for the case:

    listed         the case's first listing in the archive
    adjourned      listed again at the same court on a later day
    court_changed  listed at another court than its previous listing (e.g. sent to the Crown Court)
    plea           a plea recorded that the previous listing did not have
    outcome        a conviction date appears, or the hearing is a sentence / verdict

New hearings are found by a high-water mark per subscription (``subscription.last_run_at``, the
time of its last matching run; at first the time it was created): hearings of current publications
ingested after it (minus five minutes of overlap, so that a list committed while the last run was
reading is not missed; the unique (subscription, hearing) key makes the overlap harmless).

Names are matched directly against the new parties (the search index is for the archive; here only
the new rows matter): both sides normalised with `governance.pseudonym.name_words` (accents, titles,
particles, the shared name-variant table), then every word of the followed name must find a word of
the party's name with Jaro-Winkler >= 0.85 and a Damerau-Levenshtein distance of at most 1 (words of
up to 5 letters) or 2, and the mean Jaro-Winkler must reach the threshold (default 0.90; ``params
threshold``).  Both metrics are DuckDB's built-ins (``jaro_winkler_similarity``,
``damerau_levenshtein``: the functions Splink's comparators compile to).  A date of birth in the
params must equal the party's when the list gives one.  Person and network follows match the linked
mentions (``person_mention``) and, because new mentions are linked only at the next linkage run, the
new parties whose name and date of birth match one of the person's known mentions.

Digests (`send_digests`): one e-mail per recipient account with its unsent matches, over SMTP.
Governance (issue 7 §9; LAW.md rules 9-13):

- recipients: only accounts whose effective role is ``verified_media`` (valid verification) or
  ``admin``, whose e-mail address passes ``governance.distribution.check_receiver`` and
  ``check_recipient`` (free webmail refused unless approved, own organisation's domain ...).
  Other accounts' matches stay unsent and are reported (``undeliverable``);
- every record in a mail went through ``governance.disclose`` (``output="digest"``), via
  ``governance.distribution.export`` which also records the digest (``export_record`` kind
  ``digest``, watermarked, kept in the exports cache so expiry purges it) and writes the audit event.
  Reporting restrictions are shown with their statutory basis; withheld fields are absent;
- a match that the gate withholds (s.4(2) order, sensitivity, spent conviction, contempt rule), or a
  name / search / person / network match whose matched party's identity the gate withholds
  (e.g. a youth), is not mailed -- saying "your name alert matched" would identify the person -- and
  stays queued, so it goes out if and when the restriction ends;
- every mail has an unsubscribe link per subscription and a ``List-Unsubscribe`` header;
- a match is claimed before sending and marked sent (with the digest's export record) after the
  SMTP server accepted the message; a failed delivery gives the matches back to the queue, so a
  mail failure loses nothing and a re-run does not send twice.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
import secrets
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import quote

import orjson

from ..governance.gate import identity_withheld
from ..store import alerts as store
from ..store.util import MAX_ID, as_id

log = logging.getLogger("courtarchive.serve.alerts")

KINDS = ("name", "urn", "court", "offence_group", "search", "case", "person", "network")
EVENTS = ("listed", "adjourned", "court_changed", "plea", "outcome")
#: roles whose accounts receive digests (verified media need a valid verification)
RECIPIENT_ROLES = ("verified_media", "admin")
#: matches of these kinds say who a party is: withheld unless the matched party's identity is disclosed
NAME_THRESHOLD = 0.90
WORD_MIN = 0.85
OVERLAP = dt.timedelta(minutes=5)
UNSUBSCRIBE_PATH = "/alerts/unsubscribe/{token}"
_PARAMS = {
    "name": {"threshold", "date_of_birth", "court", "role"},
    "search": {"threshold", "date_of_birth", "court", "role", "offence_group", "mode"},
    "person": {"threshold"},
    "network": {"threshold"},
    "urn": set(), "court": set(), "offence_group": set(), "case": set(),
}
_OUTCOME_TYPES = re.compile(r"sentenc|verdict|outcome|disposal|convict", re.I)
_URN = re.compile(r"^[A-Z0-9/\-]{4,30}$")


class AlertError(ValueError):
    """Bad input to an alert action (the CLI's exit code 2)."""


class AlertRefused(AlertError):
    """The governance policy refuses this account the alert (the CLI's exit code 3, REFUSED)."""


def _now() -> dt.datetime:
    return store.now()


def unsubscribe_path(token: str) -> str:
    return UNSUBSCRIBE_PATH.format(token=token)


# =========================================================================== subscriptions
def _account(archive, username: str) -> dict:
    from ..store import governance as sg

    acc = sg.get_account(archive, username)
    if acc is None:
        raise AlertError(f"no account {username!r}")
    if acc.get("active") is False:
        raise AlertError(f"account {username!r} is not active")
    return acc


def _offence_groups() -> set[str]:
    from ..data import reference

    return set(reference.offence_groups())


def _court_id(archive, ref) -> int:
    cid = store.find_court(archive, str(ref))
    if cid is None:
        raise AlertError(f"no court {ref!r} (give a court id, FaCT id, slug or exact name)")
    return cid


def _id(q: str, what: str) -> int:
    """A person or network id as typed: a whole number from 1 to `MAX_ID`, else AlertError."""
    n = as_id(q)
    if n is None:
        raise AlertError(f"not a {what} id: {q[:30]!r} (a {what} id is a whole number from 1 to {MAX_ID})")
    return n


def _date(v, what: str) -> str:
    try:
        return dt.date.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise AlertError(f"{what}: expected YYYY-MM-DD, got {v!r}") from None


def _validate(archive, kind: str, query: str, params: dict, viewer) -> tuple[str, dict, str]:
    """(query as stored, params as stored, default label) -- or AlertError.  ``viewer``: the
    account's, for a case reference several cases share (which of them it may see)."""
    from ..governance.pseudonym import name_words

    if kind not in KINDS:
        raise AlertError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    bad = set(params) - _PARAMS[kind]
    if bad:
        raise AlertError(f"{kind}: unknown parameter(s) {sorted(bad)}; allowed: {sorted(_PARAMS[kind]) or 'none'}")
    q = " ".join((query or "").split())      # (one space between words: "Gary  Lowe" is "Gary Lowe")
    p = dict(params)
    if "threshold" in p:
        try:
            p["threshold"] = float(p["threshold"])
        except (TypeError, ValueError):
            raise AlertError(f"threshold: expected a number, got {p['threshold']!r}") from None
        if not 0.8 <= p["threshold"] <= 1.0:
            raise AlertError("threshold must be between 0.8 and 1.0")
    if "date_of_birth" in p:
        p["date_of_birth"] = _date(p["date_of_birth"], "date_of_birth")
    if "court" in p:
        p["court_id"] = _court_id(archive, p.pop("court"))
    if "offence_group" in p and p["offence_group"] not in _offence_groups():
        raise AlertError(f"unknown offence group {p['offence_group']!r}: one of {', '.join(sorted(_offence_groups()))}")
    if "role" in p:
        # read as the ingest reads a list's role ("prosecuting authority", "Accused": the stored
        # PROSECUTING_AUTHORITY, DEFENDANT); upper-casing alone kept the space, and the alert never
        # matched.  Complainants are never parties (pseudonymised as they are read): refused
        from ..ingest.cath import COMPLAINANT, PARTY, normalise_role

        raw = str(p["role"]).strip()
        role, what = normalise_role(raw)
        if not raw or role == "UNKNOWN":
            raise AlertError("role: give a party role as lists name it (e.g. defendant)")
        if what != PARTY:
            raise AlertError(f"role {raw!r}: {'complainants' if what == COMPLAINANT else 'those acting for complainants'}"
                             " are never listed as parties (the archive pseudonymises them as it reads the list): "
                             "an alert cannot follow them")
        p["role"] = role
    if kind == "name":
        words = [w for w in name_words(q) if len(w) >= 2]
        if len(words) < 2:
            raise AlertError("a name alert needs at least a forename and a surname (two words of two letters or more)")
        return q, p, q
    if kind == "search":
        mode = p.pop("mode", None)
        if mode is not None and mode not in SEARCH_MODES:
            raise AlertError(f"mode: one of {', '.join(SEARCH_MODES)} (got {mode!r})")
        if not q:
            if mode is not None:
                raise AlertError("a saved search by mode needs a name, a URN or offence words to search for")
            if not ({"court_id", "offence_group"} & set(p)):
                raise AlertError("a saved search needs a name or a court / offence_group facet")
        elif (mode or search_mode(q)) == "case":
            if not _case_query_ok(q):
                raise AlertError(f"search text {q!r} is neither a URN / case number nor offence words "
                                 "(e.g. 'theft from a shop'); to follow it as a name, give the param mode=name")
            name_only = sorted({"threshold", "date_of_birth", "role"} & set(p))
            if name_only:
                raise AlertError(f"{', '.join(name_only)}: for a name search only ({q!r} is searched as a "
                                 "URN / case number or offence words)")
            p["mode"] = "case"
        elif not [w for w in name_words(q) if len(w) >= 2]:
            raise AlertError(f"search text {q!r} has no name words")
        elif search_mode(q) == "case":
            p["mode"] = "name"          # (kept only where it is not what the query reads as)
        c = store.court(archive, p["court_id"]) if "court_id" in p else None
        label = " ".join(x for x in (q, f"at {c['name'] if c else p['court_id']}" if "court_id" in p else "",
                                     f"({p['offence_group']})" if p.get("offence_group") else "") if x)
        return q, p, label
    if kind == "urn":
        key = "".join(q.split()).upper()
        if not _URN.match(key) or not re.search(r"\d", key):     # (URNs and case numbers have digits)
            raise AlertError(f"not a URN: {query!r}")
        return key, p, f"URN {key}"
    if kind == "court":
        cid = _court_id(archive, q)
        c = store.court(archive, cid)
        return q, {"court_id": cid}, c["name"] if c else q
    if kind == "offence_group":
        if q not in _offence_groups():
            raise AlertError(f"unknown offence group {q!r}: one of {', '.join(sorted(_offence_groups()))}")
        return q, p, f"offence group {q}"
    if kind == "case":
        cid = _the_case(archive, q, viewer)
        if cid is None:
            raise AlertError(f"no case {q!r} in the archive (give its URN or case number)")
        c = store.resolve_case(archive, int(cid)) or {}
        return q, {"case_id": cid}, f"case {c.get('urn') or c.get('case_number') or cid}"
    if kind == "person":
        pid = _id(q, "person")
        if not store.person_exists(archive, pid):
            raise AlertError(f"no linked person {q!r} (give a person id from the person page or `link` output)")
        return str(pid), {**p, "person_id": pid}, f"person #{pid}"
    if kind == "network":
        nid = _id(q, "network")
        if not store.network_exists(archive, nid):
            raise AlertError(f"no network {q!r}")
        return str(nid), {**p, "network_id": nid}, f"network #{nid}"
    raise AlertError(kind)  # pragma: no cover


def _the_case(archive, ref: str, viewer) -> int | None:
    """The case ``ref`` names, read as the case page and `courtarchive case` read it
    (`views.the_case`): a case number several cases share (each Crown Court numbers its own) is
    asked about -- AlertError naming the URNs of those the account may see -- instead of following
    the lowest id of them."""
    from ..config import settings
    from . import views as V

    try:
        return V.the_case(V.Portal(archive, home=Path(settings().home)), viewer, ref, output="digest")
    except V.Ambiguous as e:
        raise AlertError(str(e)) from None


#: how a saved search reads its query: as a person's name (fuzzy), or as the search page's case
#: search reads one (a URN or case number, else offence words: `serve.search.search_cases`)
SEARCH_MODES = ("name", "case")
def _ref_of(q: str) -> str | None:
    """A URN or case number as the search page reads one (`search.case_ref`)."""
    from .search import case_ref

    return case_ref(q)


def _offence_codes_of(q: str) -> set[str]:
    """The offence codes offence words name, as the search page finds them."""
    from .search import _offence_codes

    return {c.upper() for c in _offence_codes(q or "")[0]}


def _case_query_ok(q: str) -> bool:
    return _ref_of(q) is not None or bool(_offence_codes_of(q))


def search_mode(q: str) -> str:
    """How a saved search reads ``q`` unless told (``params mode``): a URN / case number or
    offence words ("theft from a shop": every word begins a word of an offence's title) are a
    case search, anything else a name.  Every saved search of several words had been matched as a
    person's name, so "sexual assault" was accepted and never fired."""
    return "case" if _case_query_ok(q) else "name"


def _case_hits(sub: dict, hs: list[dict], batch: "_Batch") -> list[dict]:
    """The hearings a case-mode saved search finds: its URN / case number or a listed offence its
    words name.  A reference is read as the search page reads it (`search.search_cases`): when it is
    the whole URN or case number of a case listed in the archive (at the saved search's court, with
    an offence of its group), only that case's hearings; only when none is, as the start of longer
    ones.  (Read as a prefix alone, a saved search for 06GX12345 alerted on 06GX123450's hearings
    too, and on none of them ever being its case.)"""
    ref, codes = _ref_of(sub["query"]), _offence_codes_of(sub["query"])
    if ref:
        from . import views as V
        from .search import whole_ref_listed

        p = sub.get("params") or {}
        # a whole-reference case counts only when its subscriber may see a listing of it, as the search
        # page counts it for its viewer (`views._seen_hearings`, the gate as a digest's): one withheld
        # from them (a list their role may not see, a s.4(2) order) counts nowhere -- followed alone,
        # the hidden case's hearings were withheld and the prefix's alerts stopped, which said it exists
        viewer = batch.subscriber(sub)
        key = (ref, p.get("court_id"), p.get("offence_group"), viewer.effective_role(batch.now), V.purpose_for(viewer))
        if key not in batch.whole_refs:     # (the archive as it is after this ingest: the new lists in it)
            batch.whole_refs[key] = whole_ref_listed(
                batch.archive, ref, court_id=p.get("court_id"), offence_group=p.get("offence_group"),
                seen=V._seen_hearings(batch.portal(), viewer, "digest", now=batch.now))
        whole = batch.whole_refs[key]

    from ..store.util import case_number_key

    def by_ref(h: dict) -> bool:
        refs = ((h.get("urn") or "").upper(), case_number_key(h.get("case_number")))   # (as the search's index)
        return ref in refs if whole else any(r.startswith(ref) for r in refs)

    return [h for h in hs
            if (ref and by_ref(h))
            or (codes and any((o.get("code") or "").upper() in codes for o in batch.offences_by_h.get(h["id"], [])))]


def _public(row: dict) -> dict:
    out = dict(row)
    out["unsubscribe_path"] = unsubscribe_path(row["unsubscribe_token"])
    return out


def acting(acc: dict, actor: str | None) -> dict:
    """Who the audit event of a change to ``acc``'s subscriptions names: the account itself (its
    role, for journalism), or ``actor`` -- an operator at the console acting for it (`alerts
    subscribe --actor`), as admin, for administration.  The account is among the event's objects."""
    if not actor or actor == acc["username"]:
        return {"actor": acc["username"], "role": _role(acc), "purpose": "journalism"}
    return {"actor": actor, "role": "admin", "purpose": "administration"}


def same_subscription(archive, account_id: int, kind: str, query: str, params: dict | None) -> dict | None:
    """The account's active subscription that is this one, if any: for what is followed by id (a
    case, a person, a network, a beat: ``params["<kind>_id"]``) the same target however it was
    named (a case by URN or by case number), otherwise the same query (a name or a search: in
    any case and spacing) and params."""
    key = f"{kind}_id"
    target = (params or {}).get(key)

    def text(q):         # a name or search is the same whatever its case and spacing ("GARY  lowe")
        return " ".join((q or "").split()).casefold() if kind in ("name", "search") else q

    for s in store.subscriptions(archive, account_id=account_id, active_only=True, kinds=[kind]):
        sp = s["params"] or {}
        if (str(sp.get(key)) == str(target)) if target is not None else \
                (text(s["query"]) == text(query) and (sp or None) == (params or None)):
            return s
    return None


def subscribe(archive, *, username: str, kind: str, query: str, params: dict | None = None,
              label: str | None = None, actor: str | None = None) -> dict:
    """Create a subscription for ``username``; returns its row with ``unsubscribe_path`` and whether
    digests can reach the account now (``deliverable``, ``deliverable_reason``).  The same one,
    active (`same_subscription`), is returned instead (``existing``: true; nothing written).
    ``actor``: who did it, when not the account itself (see `acting`)."""
    from ..governance import audit

    from ..governance.policy import Viewer

    acc = _account(archive, username)
    why = identity_refusal(Viewer.from_account(acc), kind)
    if why:
        raise AlertRefused(why)
    if params is not None and not isinstance(params, dict):
        raise AlertError("params must be a JSON object")
    q, p, default_label = _validate(archive, kind, query, params or {}, Viewer.from_account(acc))
    # the same alert twice (an API client retrying, the CLI run again) is the one already there:
    # two would send every match twice
    same = same_subscription(archive, acc["id"], kind, q, p)
    if same is not None:
        ok, why = deliverable(archive, acc)
        return {**_public(same), "existing": True, "deliverable": ok, "deliverable_reason": why}
    row = store.add_subscription(archive, {
        "account_id": acc["id"], "kind": kind, "query": q, "params": p or None,
        "label": (label or "").strip() or default_label, "unsubscribe_token": secrets.token_urlsafe(24),
        "last_run_at": None})
    audit.record(archive, **acting(acc, actor), action="alert_subscribe",
                 objects={"subscription": [row["id"]], "account": [acc["id"]]}, details={"kind": kind})
    ok, why = deliverable(archive, acc)
    return {**_public(row), "deliverable": ok, "deliverable_reason": why}


#: what following these tells: who someone is (identities only)
IDENTITY_KINDS = {"name": "a name", "search": "a saved search", "person": "a person", "network": "a network"}


def identity_refusal(viewer, kind: str) -> str | None:
    """Why ``viewer`` may not follow ``kind`` (None: may).  Following a name, a saved search, a
    person or a network is use of identity: only roles that see identities (verified media,
    admins), from the web, the API and the command line alike."""
    from ..governance import policy as pol

    if kind in IDENTITY_KINDS and not pol.sees_identity(viewer):
        role = viewer.effective_role()
        if role == "analyst":
            # (said plainly: what the role can follow, and why not this -- "does not see identities"
            # alone left an analyst guessing whether anything could be followed at all)
            return (f"an analyst account can follow cases, URNs, courts and offence groups (notifications in "
                    f"Tracking only: e-mail digests go to verified media and admins), not {IDENTITY_KINDS[kind]}: "
                    f"following {IDENTITY_KINDS[kind]} tells who someone is, and the analyst role does not see "
                    f"identities (pseudonymised data only) -- that needs a verified media account")
        return (f"following {IDENTITY_KINDS[kind]} needs a verified media account "
                f"(role {role} does not see identities)")
    return None


def _role(acc: dict, now: dt.datetime | None = None) -> str:
    from ..governance.policy import Viewer

    return Viewer.from_account(acc).effective_role(now)


def deliverable(archive, acc: dict, *, profile=None, now: dt.datetime | None = None) -> tuple[bool, str | None]:
    """Whether digests may go to this account now (role, verification, e-mail domain policy)."""
    from ..governance import distribution
    from ..governance.policy import Viewer
    from ..governance.profile import load

    v = Viewer.from_account(acc)
    role = v.effective_role(now)
    if role not in RECIPIENT_ROLES:
        why = ("verification missing or expired" if v.role == "verified_media" else f"role {v.role}")
        return False, f"alerts go to verified media and admins only ({why})"
    if not acc.get("email"):
        return False, "the account has no e-mail address"
    try:
        distribution.check_recipient(archive, v, acc["email"], profile=profile or load(), now=now)
    except distribution.DistributionError as e:
        return False, str(e)
    return True, None


def list_subscriptions(archive, username: str) -> list[dict]:
    acc = _account(archive, username)
    return [_public(r) for r in store.subscriptions(archive, account_id=acc["id"])]


def cancel(archive, *, username: str, subscription_id: int, actor: str | None = None) -> bool:
    """Stop ``username``'s subscription; False when it has no such active one.  ``actor``: who
    did it, when not the account itself (see `acting`)."""
    from ..governance import audit

    acc = _account(archive, username)
    sub = store.deactivate(archive, subscription_id=int(subscription_id), account_id=acc["id"])
    if sub is None:
        return False
    audit.record(archive, **acting(acc, actor), action="alert_cancel",
                 objects={"subscription": [sub["id"]], "account": [acc["id"]]},
                 details={"kind": sub["kind"], "via": "account"})
    return True


def unsubscribe(archive, token: str) -> bool:
    """The mail link ``/alerts/unsubscribe/{token}``: switches that subscription off."""
    from ..governance import audit
    from ..store import governance as sg

    if not token or len(token) > 200:
        return False
    sub = store.deactivate(archive, token=token)
    if sub is None:
        return False
    acc = next((a for a in sg.list_accounts(archive) if a["id"] == sub["account_id"]), None)
    audit.record(archive, actor=(acc or {}).get("username", f"account:{sub['account_id']}"),
                 role=_role(acc) if acc else "public", action="alert_cancel", purpose="journalism",
                 objects={"subscription": [sub["id"]]}, details={"kind": sub["kind"], "via": "unsubscribe_link"})
    return True


# =========================================================================== matching
def _party_name(p: dict) -> str:
    from ..store.outputs import display_name

    return display_name(p) or ""


def name_matches(queries: list[dict], parties: list[dict]) -> list[tuple[int, int, float]]:
    """Fuzzy name matching of ``queries`` ({qid, name, threshold, date_of_birth}) against
    ``parties`` (rows with names and date_of_birth): (qid, party id, score) for every pair whose
    every query word finds a party word (Jaro-Winkler >= WORD_MIN, Damerau-Levenshtein <= 1 for
    words of up to 5 letters, else 2) and whose mean Jaro-Winkler reaches the query's threshold.
    Candidate word pairs share their first letter or their second and third letters."""
    from ..config import duckdb_connect
    import polars as pl

    from ..governance.pseudonym import name_words

    pid_col, pw_col = [], []
    dob: dict[int, dt.date | None] = {}
    for p in parties:
        if p.get("pseudonymised"):
            continue
        for w in {w for w in name_words(_party_name(p)) if len(w) >= 2}:
            pid_col.append(p["id"])
            pw_col.append(w)
        dob[p["id"]] = p.get("date_of_birth")
    qid_col, qi_col, qw_col, n_col, thr_col = [], [], [], [], []
    qinfo: dict[int, dict] = {}
    for q in queries:
        words = list(dict.fromkeys(w for w in name_words(q["name"] or "") if len(w) >= 2))
        if not words:
            continue
        qinfo[q["qid"]] = q
        for i, w in enumerate(words):
            qid_col.append(q["qid"])
            qi_col.append(i)
            qw_col.append(w)
            n_col.append(len(words))
            thr_col.append(float(q.get("threshold") or NAME_THRESHOLD))
    if not pid_col or not qid_col:
        return []
    con = duckdb_connect()          # (bounded memory, spills to the scratch folder: see config)
    try:
        con.register("pw", pl.DataFrame({"pid": pid_col, "w": pw_col}, schema={"pid": pl.Int64, "w": pl.Utf8}))
        con.register("qw", pl.DataFrame({"qid": qid_col, "qi": qi_col, "w": qw_col, "n": n_col, "thr": thr_col},
                                        schema={"qid": pl.Int64, "qi": pl.Int64, "w": pl.Utf8, "n": pl.Int64,
                                                "thr": pl.Float64}))
        rows = con.execute(f"""
            WITH cand AS (
                SELECT q.qid, q.qi, q.n, q.thr, q.w AS a, p.pid, p.w AS b
                FROM qw q JOIN pw p ON left(q.w, 1) = left(p.w, 1)
                UNION
                SELECT q.qid, q.qi, q.n, q.thr, q.w AS a, p.pid, p.w AS b
                FROM qw q JOIN pw p ON substr(q.w, 2, 2) = substr(p.w, 2, 2)
            ), scored AS (
                SELECT qid, qi, n, thr, pid, jaro_winkler_similarity(a, b) AS jw
                FROM cand
                WHERE damerau_levenshtein(a, b) <= CASE WHEN length(a) <= 5 THEN 1 ELSE 2 END
            ), best AS (
                SELECT qid, qi, n, thr, pid, max(jw) AS jw FROM scored WHERE jw >= {WORD_MIN}
                GROUP BY qid, qi, n, thr, pid
            )
            SELECT qid, pid, avg(jw) AS score FROM best GROUP BY qid, pid, n, thr
            HAVING count(*) = n AND avg(jw) >= thr
        """).fetchall()
    finally:
        con.close()
    out = []
    for qid, pid, score in rows:
        want = qinfo[qid].get("date_of_birth")
        have = dob.get(pid)
        if want and have and str(have)[:10] != str(want)[:10]:
            continue
        out.append((qid, pid, round(float(score), 4)))
    return sorted(out)


def _person_queries(archive, sub: dict, qid_base: int) -> tuple[list[dict], set[int]]:
    """Name queries for a person / network follow (one per distinct name + date of birth of the
    persons' known mentions) and the live person ids followed."""
    p = sub.get("params") or {}
    if sub["kind"] == "person":
        persons = [store.live_person(archive, int(p.get("person_id") or sub["query"]))]
    else:
        persons = [store.live_person(archive, x) for x in store.network_persons(archive, int(p.get("network_id")
                                                                                             or sub["query"]))]
    persons_set = {x for x in persons if x is not None}
    seen, queries = set(), []
    for pid, mentions in store.person_mention_identities(archive, persons_set).items():
        for m in mentions:
            name = _party_name(m)
            key = (name.casefold(), m.get("date_of_birth"))
            if not name or key in seen:
                continue
            seen.add(key)
            queries.append({"qid": qid_base + len(queries), "name": name, "date_of_birth": m.get("date_of_birth"),
                            "threshold": p.get("threshold") or 0.92})
    return queries, persons_set


class _Batch:
    """The new hearings of one run and what matching reads about them."""

    def __init__(self, archive, hearings: list[dict], *, now: dt.datetime | None = None, viewer=None,
                 keyring=None, profile=None):
        from ..data import reference

        self.hearings = {h["id"]: h for h in hearings}
        hids = list(self.hearings)
        self.parties = store.parties_of_hearings(archive, hids)
        self.parties_by_h: dict[int, list[dict]] = {}
        for p in self.parties:
            self.parties_by_h.setdefault(p["hearing_id"], []).append(p)
        offs = store.offence_facts(archive, hids)
        self.offences_by_h: dict[int, list[dict]] = {}
        for o in offs:
            self.offences_by_h.setdefault(o["hearing_id"], []).append(o)
        groups = {o["code"]: o["offence_group"] for o in reference.offences()}
        self.groups_by_h = {h: {groups.get(o["code"]) for o in os_} - {None} for h, os_ in self.offences_by_h.items()}
        listings = store.case_listings(archive, {h["case_id"] for h in hearings})
        self.listings: dict[int, list[dict]] = {}
        for li in listings:
            self.listings.setdefault(li["case_id"], []).append(li)
        self._prev_offences: dict[int, list[dict]] = {}
        #: (reference, court id, offence group, the subscriber's role and purpose: what the gate's
        #: answer depends on) -> is it the whole URN / case number of a listed case they may see (`_case_hits`)
        self.whole_refs: dict[tuple, bool] = {}
        self.archive = archive
        #: the time matching is for (the run's: the gate reads orders and verifications as of then)
        self.now = now
        #: whom every subscription's matches are for (a rematch when they are released), else each
        #: subscription's account
        self.viewer = viewer
        self._accounts: dict[int, dict] | None = None
        self._gate_args = {"keyring": keyring, "profile": profile}
        self._portal = None

    def subscriber(self, sub: dict):
        """The `Viewer` the gate applies for whom ``sub``'s matches are for (an unknown account: public)."""
        from ..governance.policy import Viewer
        from ..store import governance as sg

        if self.viewer is not None:
            return self.viewer
        if self._accounts is None:
            self._accounts = {a["id"]: a for a in sg.list_accounts(self.archive)}
        acc = self._accounts.get(sub.get("account_id"))
        return Viewer.from_account(acc) if acc else Viewer.public()

    def portal(self):
        """What the views' disclosure checks read (as `_the_case` reads the case page)."""
        if self._portal is None:
            from ..config import settings
            from . import views as V

            self._portal = V.Portal(self.archive, home=Path(settings().home), **self._gate_args)
        return self._portal

    @staticmethod
    def sitting(h: dict) -> tuple:
        """One sitting of a case: its court and day.  The day's public and standard lists (or a
        firm and a daily list) are several listings of one sitting."""
        return h["case_id"], h["court_id"], h["sitting_date"]

    def previous(self, h: dict) -> dict | None:
        """The case's latest listing before this one's sitting (another list of the same sitting is
        not "before" it: the public list of a day read first made the standard list's pleas a
        "plea entered", and one sitting two alerts)."""
        key = (h["sitting_date"] or dt.date.min, h["id"])
        here = self.sitting(h)
        older = [li for li in self.listings.get(h["case_id"], [])
                 if (li["sitting_date"] or dt.date.min, li["id"]) < key and self.sitting(li) != here]
        return max(older, key=lambda li: (li["sitting_date"] or dt.date.min, li["id"])) if older else None

    def sitting_offences(self, li: dict) -> list[dict]:
        """The offences of every listing of ``li``'s sitting: a plea or a conviction that one of the
        sitting's lists gives counts as known then (the public list gives none)."""
        here = self.sitting(li)
        return [o for x in self.listings.get(li["case_id"], []) if self.sitting(x) == here
                for o in self.offences_of(x["id"])]

    def offences_of(self, hearing_id: int) -> list[dict]:
        if hearing_id in self.offences_by_h:
            return self.offences_by_h[hearing_id]
        if hearing_id not in self._prev_offences:
            self._prev_offences[hearing_id] = store.offence_facts(self.archive, [hearing_id])
        return self._prev_offences[hearing_id]

    def event(self, h: dict) -> str | None:
        """What this listing is for its case, compared with the case's previous sitting."""
        prev = self.previous(h)
        new = self.offences_by_h.get(h["id"], [])
        if prev is None:
            return "listed"
        old = self.sitting_offences(prev)
        old_plea = {(o["code"], o["party_id"] is not None): o["plea"] for o in old}
        old_conv = {o["code"] for o in old if o["conviction_date"] is not None}
        if any(o["conviction_date"] is not None and o["code"] not in old_conv for o in new) or \
                (_OUTCOME_TYPES.search(h.get("hearing_type") or "") and
                 not _OUTCOME_TYPES.search(prev.get("hearing_type") or "")):
            return "outcome"
        if any(o["plea"] and old_plea.get((o["code"], o["party_id"] is not None)) != o["plea"] for o in new):
            return "plea"
        if prev["court_id"] != h["court_id"]:
            return "court_changed"
        return "adjourned"


def _facets(sub: dict, hs: list[dict], batch: _Batch) -> list[dict]:
    p = sub.get("params") or {}
    return [h for h in hs if ("court_id" not in p or h["court_id"] == p["court_id"])
            and ("offence_group" not in p or p["offence_group"] in batch.groups_by_h.get(h["id"], set()))]


def match(archive, subs: list[dict], hs_of: dict[int, list[dict]], batch: _Batch) -> list[tuple[int, int, float, int | None]]:
    """(subscription id, hearing id, score, matched party id) for every subscription in ``subs``
    against its hearings ``hs_of[sub id]``.  All name queries (name and search alerts, the known
    names of followed persons and networks) are matched against the new parties in one pass."""
    out: list[tuple[int, int, float, int | None]] = []
    shared: dict[int, set[int]] = {}                # id(hearing list) -> its hearing ids
    queries: list[dict] = []
    owner: dict[int, int] = {}                      # qid -> subscription id
    followed: dict[int, set[int]] = {}              # subscription id -> live person ids
    allowed: dict[int, set[int]] = {}               # subscription id -> hearing ids after facets
    by_id = {s["id"]: s for s in subs}
    for sub in subs:
        hs = hs_of.get(sub["id"]) or []
        if not hs:
            continue
        p = sub.get("params") or {}
        kind = sub["kind"]
        if kind == "beat":
            continue        # a beat's daily digest is built when sent (serve.digest.send), not matched
        if kind == "urn":
            out += [(sub["id"], h["id"], 1.0, None) for h in hs if (h.get("urn") or "") == sub["query"]]
        elif kind == "case":
            out += [(sub["id"], h["id"], 1.0, None) for h in hs if h["case_id"] == p.get("case_id")]
        elif kind == "court":
            out += [(sub["id"], h["id"], 1.0, None) for h in hs if h["court_id"] == p.get("court_id")]
        elif kind == "offence_group":
            out += [(sub["id"], h["id"], 1.0, None) for h in hs
                    if sub["query"] in batch.groups_by_h.get(h["id"], set())]
        elif kind == "search" and not sub["query"]:
            out += [(sub["id"], h["id"], 1.0, None) for h in _facets(sub, hs, batch)]
        elif kind == "search" and (p.get("mode") or search_mode(sub["query"])) == "case":
            # (a saved search made before modes existed reads its query as it would be read now)
            out += [(sub["id"], h["id"], 1.0, None) for h in _case_hits(sub, _facets(sub, hs, batch), batch)]
        else:
            if {"court_id", "offence_group"} & set(p):
                allowed[sub["id"]] = {h["id"] for h in _facets(sub, hs, batch)}
            else:
                if id(hs) not in shared:
                    shared[id(hs)] = {h["id"] for h in hs}
                allowed[sub["id"]] = shared[id(hs)]
            if kind in ("name", "search"):
                qs = [{"name": sub["query"], "threshold": p.get("threshold"), "date_of_birth": p.get("date_of_birth")}]
            else:
                qs, followed[sub["id"]] = _person_queries(archive, sub, 0)
            for q in qs:
                qid = len(queries)
                owner[qid] = sub["id"]
                queries.append({**q, "qid": qid})
    if not allowed:
        return out
    every = set().union(*{id(v): v for v in allowed.values()}.values())
    parties = [x for x in batch.parties if x["hearing_id"] in every]
    party = {x["id"]: x for x in parties}
    best: dict[tuple[int, int], tuple[float, int]] = {}

    def keep(sid: int, pid: int, score: float) -> None:
        x = party[pid]
        role = (by_id[sid].get("params") or {}).get("role")
        if x["hearing_id"] not in allowed[sid] or (role and (x["role"] or "") != role):
            return
        k = (sid, x["hearing_id"])
        if k not in best or score > best[k][0]:
            best[k] = (score, pid)

    for qid, pid, score in name_matches(queries, parties):
        keep(owner[qid], pid, score)
    if followed:
        linked = store.persons_of_parties(archive, list(party))
        live = {pe: store.live_person(archive, pe) for pe in set(linked.values())}
        for pid, person in linked.items():
            for sid, persons in followed.items():
                if live.get(person) in persons:
                    keep(sid, pid, 1.0)
    out += [(sid, hid, score, pid) for (sid, hid), (score, pid) in best.items()]
    return out


def after_ingest(archive, report=None, *, now: dt.datetime | None = None, send: bool | None = None,
                 **send_kw) -> dict:
    """Match the listings ingested since each subscription's last run; then, when SMTP is
    configured (or ``send`` is true), send the digests.  Returns counts."""
    from ..config import settings
    from ..governance import audit

    run_at = now or _now()
    subs = store.subscriptions(archive, active_only=True)
    res: dict = {"subscriptions": len(subs), "hearings_scanned": 0, "matches": 0,
                 "by_event": {}, "by_kind": {}}
    if subs:
        # the overlap never reaches back before the subscription itself: a case followed just after its
        # list came in does not notify that listing on the next run
        start = {s["id"]: max(s["last_run_at"] - OVERLAP, s["created_at"]) if s["last_run_at"] else s["created_at"]
                 for s in subs}
        hearings = store.new_hearings(archive, min(start.values()), until=run_at)
        res["hearings_scanned"] = len(hearings)
        rows: list[dict] = []
        if hearings:
            batch = _Batch(archive, hearings, now=run_at, keyring=send_kw.get("keyring"),
                           profile=send_kw.get("profile"))
            events: dict[int, str | None] = {}
            hearings.sort(key=lambda h: (h["ingested_at"], h["id"]))
            times = [h["ingested_at"] for h in hearings]
            window: dict[dt.datetime, list[dict]] = {}
            for t in set(start.values()):
                window[t] = hearings[bisect.bisect_right(times, t):]
            hs_of = {sub["id"]: window[start[sub["id"]]] for sub in subs}
            # one match per subscription and sitting: the day's public and standard lists, or a
            # list and its later version, are one listing to the subscriber (the first one matched)
            done = store.matched_sittings(archive, batch.listings.keys())
            for sid, hid, score, _pid in match(archive, subs, hs_of, batch):
                h = batch.hearings[hid]
                if (sid, *batch.sitting(h)) in done:
                    continue
                if hid not in events:
                    events[hid] = batch.event(h)
                ev = events[hid]
                if ev is None:
                    continue
                done.add((sid, *batch.sitting(h)))
                rows.append({"subscription_id": sid, "hearing_id": hid, "case_id": h["case_id"],
                             "score": score, "event": ev, "matched_at": run_at})
        new_rows = store.insert_matches(archive, rows)
        new = len(new_rows)
        store.set_last_run(archive, [s["id"] for s in subs], run_at)
        res["matches"] = new
        for r in new_rows:
            res["by_event"][r["event"]] = res["by_event"].get(r["event"], 0) + 1
        kinds = {s["id"]: s["kind"] for s in subs}
        for r in new_rows:
            k = kinds[r["subscription_id"]]
            res["by_kind"][k] = res["by_kind"].get(k, 0) + 1
        audit.record(archive, actor="system", role="admin", action="alert_match", purpose="journalism",
                     objects={"subscription": sorted({r["subscription_id"] for r in new_rows})},
                     details={"subscriptions": len(subs), "hearings_scanned": len(hearings), "new_matches": new})
    configured = bool(send_kw.get("smtp_host") or settings().smtp_host)
    if send or (send is None and configured):
        res["digests"] = send_digests(archive, now=now, **send_kw)
    elif send is None:
        res["digests"] = {"skipped": "no SMTP server configured (COURTARCHIVE_SMTP_HOST)"}
    return res


# =========================================================================== digests
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("courtarchive.serve", "mail_templates"),
                       autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _walk_hearings(cases: list[dict]):
    for c in cases:
        for h in c.get("hearings") or []:
            yield c, h


def _identity_disclosed(party: dict | None) -> bool:
    if party is None:
        return False
    return not identity_withheld(party) and bool(party.get("name"))


def _digest_items(matches: list[dict], cases: list[dict], flags: list[dict], base_url: str,
                  included: list[int] | None = None) -> list[dict]:
    """Sections (one per subscription) of the disclosed records for the template; the ids of the
    matches shown are appended to ``included``."""
    by_h = {h["id"]: (c, h) for c, h in _walk_hearings(cases)}
    restr: dict[int, list[dict]] = {}
    for f in flags:
        if f["flag"] == "restriction" and f.get("case_id") is not None:
            restr.setdefault(f["case_id"], []).append(f)
    sections: dict[int, dict] = {}
    for m in matches:
        if m["hearing_id"] not in by_h:
            continue
        c, h = by_h[m["hearing_id"]]
        if included is not None:
            included.append(m["id"])
        sec = sections.setdefault(m["subscription_id"], {
            "label": m["label"] or m["kind"], "kind": m["kind"],
            "unsubscribe_url": base_url + unsubscribe_path(m["unsubscribe_token"]), "entries": []})
        parties = []
        for p in h.get("parties") or []:
            offs = [{"title": o.get("title"), "code": o.get("code"), "wording": o.get("wording"),
                     "plea": o.get("plea"), "withheld": [x for x in o.get("_redacted") or [] if x in ("wording", "title")]}
                    for o in p.get("offences") or []]
            parties.append({"role": (p.get("role") or "").replace("_", " ").lower(),
                            "name": p.get("name") or p.get("organisation_name") or "[name withheld]",
                            "age": p.get("age"), "town": p.get("town"), "offences": offs})
        ref = c.get("urn") or c.get("case_number") or str(c.get("id"))
        sec["entries"].append({
            "match_id": m["id"], "matched_at": m.get("matched_at"), "seen_at": m.get("seen_at"),
            "subscription_id": m["subscription_id"], "label": sec["label"],
            "event": m["event"], "event_text": EVENT_TEXT[m["event"]], "case_ref": ref,
            # (the URN, else id:N: a bare id is read as a case number first on the case route)
            "case_url": f"{base_url}/cases/{quote(str(c.get('urn') or 'id:' + str(c.get('id'))), safe=':')}",
            "date": str(h.get("sitting_date") or ""), "time": h.get("sitting_time") or "",
            "court": h.get("court") or h.get("court_name") or "", "room": h.get("room") or "",
            "hearing_type": h.get("hearing_type") or "", "list_type": h.get("list_type") or "",
            "parties": parties,
            "restrictions": [{"summary": f["summary"], "law": f["law"], "until": f.get("until")}
                             for f in restr.get(c.get("id"), [])],
        })
    return list(sections.values())


EVENT_TEXT = {"listed": "listed", "adjourned": "listed again (adjourned)", "court_changed": "moved to another court",
              "plea": "plea entered", "outcome": "outcome (conviction / sentence)"}


def render_digest(*, username: str, sections: list[dict], flags: list[dict], watermark: str,
                  base_url: str) -> tuple[str, str]:
    """(text, html) of one digest."""
    env = _templates()
    contempt = [f for f in flags if f["flag"] == "contempt_risk"]
    ctx = {"username": username, "sections": sections, "watermark": watermark, "base_url": base_url,
           "contempt": contempt, "count": sum(len(s["entries"]) for s in sections)}
    return env.get_template("digest.txt.j2").render(**ctx), env.get_template("digest.html.j2").render(**ctx)


def _smtp(host: str, port: int, s) -> smtplib.SMTP:
    conn = smtplib.SMTP_SSL(host, port, timeout=30) if port == 465 else smtplib.SMTP(host, port, timeout=30)
    if s.smtp_starttls and port != 465:
        conn.starttls()
    if s.smtp_user:
        conn.login(s.smtp_user, s.smtp_password or "")
    return conn


def _read_export(path: Path) -> tuple[dict, list[dict]]:
    with open(path, "rb") as fh:
        header = orjson.loads(fh.readline())
        return header, [orjson.loads(line) for line in fh if line.strip()]


def send_digests(archive, *, now: dt.datetime | None = None, smtp_host: str | None = None,
                 smtp_port: int | None = None, sender: str | None = None, base_url: str | None = None,
                 keyring=None, profile=None, home: Path | None = None) -> dict:
    """One digest e-mail per recipient account with its unsent matches (see the module docstring
    for the governance).  Returns {sent, messages, matches_sent, withheld, undeliverable, failed}."""
    from ..config import settings
    from ..governance import audit, distribution
    from ..governance.policy import Viewer
    from ..governance.profile import load as load_profile
    from ..governance.pseudonym import Keyring
    from ..store import governance as sg
    from ..store import outputs

    s = settings()
    host = smtp_host or s.smtp_host
    if not host:
        raise AlertError("no SMTP server configured: set COURTARCHIVE_SMTP_HOST (and COURTARCHIVE_SMTP_PORT)")
    port = int(smtp_port or s.smtp_port)
    sender = sender or s.smtp_from
    base_url = (base_url or s.base_url).rstrip("/")
    home = Path(home or s.home)
    profile = profile or load_profile(home=home)
    res: dict = {"messages": 0, "matches_sent": 0, "withheld": 0, "undeliverable": {}, "failed": []}
    pending = store.unsent(archive)
    if not pending:
        return res
    by_account: dict[int, list[dict]] = {}
    for m in pending:
        by_account.setdefault(m["account_id"], []).append(m)
    accounts = {a["id"]: a for a in sg.list_accounts(archive)}
    plans = []
    for aid, ms in by_account.items():
        acc = accounts[aid]
        ok, why = deliverable(archive, acc, profile=profile, now=now)
        if not ok:
            res["undeliverable"][acc["username"]] = {"matches": len(ms), "reason": why}
            continue
        plans.append((acc, ms))
    if not plans:
        return res
    keyring = keyring or Keyring.from_settings(s)
    try:
        conn = _smtp(host, port, s)
    except (OSError, smtplib.SMTPException) as e:
        res["failed"].append({"error": f"SMTP {host}:{port}: {type(e).__name__}: {e}"})
        res["unsent"] = sum(len(ms) for _, ms in plans)
        return res
    try:
        for acc, ms in plans:
            viewer = Viewer.from_account(acc)
            role = viewer.effective_role(now)
            purpose = "journalism" if role == "verified_media" else "administration"
            keep, held = releasable(archive, viewer, ms, purpose=purpose, keyring=keyring, profile=profile,
                                    output="digest", now=now)
            res["withheld"] += len(held)
            if not keep:
                continue
            marker = _now()
            claimed = set(store.claim(archive, [m["id"] for m in keep], marker))
            keep = [m for m in keep if m["id"] in claimed]
            if not keep:
                continue
            want = {}
            for m in keep:
                want.setdefault(m["case_id"], []).append(m["hearing_id"])
            exp = None
            try:
                exp = distribution.export(archive, outputs.cases_with_hearings(archive, want), viewer, purpose=purpose,
                                          keyring=keyring, profile=profile, home=home, what=f"digest:{len(keep)}",
                                          recipient=acc["email"], kind="digest", now=now)
                header, cases = _read_export(Path(exp["path"]))
                shown_ids: list[int] = []
                sections = _digest_items(keep, cases, header.get("flags", []), base_url, shown_ids)
                if not shown_ids:
                    raise AlertError("nothing left to send after disclosure")
                text, html = render_digest(username=acc["username"], sections=sections,
                                           flags=header.get("flags", []), watermark=exp["watermark"],
                                           base_url=base_url)
                msg = EmailMessage()
                n = sum(len(x["entries"]) for x in sections)
                msg["Subject"] = f"courtarchive alerts: {n} new listing{'s' if n != 1 else ''}"
                msg["From"] = sender
                msg["To"] = acc["email"]
                msg["Date"] = formatdate(localtime=False)
                msg["Message-ID"] = make_msgid(domain=(sender.rsplit("@", 1)[-1] or "courtarchive"))
                msg["Auto-Submitted"] = "auto-generated"
                msg["List-Unsubscribe"] = ", ".join(f"<{x['unsubscribe_url']}>" for x in sections)
                if len(sections) == 1:
                    # RFC 8058 one-click needs exactly one link (a digest of several alerts has one each)
                    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                msg["X-Courtarchive-Digest"] = str(exp["id"])
                msg.set_content(text)
                msg.add_alternative(html, subtype="html")
                try:
                    conn.send_message(msg)
                except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError):
                    conn = _smtp(host, port, s)          # one reconnect, then give up on this digest
                    conn.send_message(msg)
            except Exception as e:
                store.release(archive, [m["id"] for m in keep], marker)
                res["failed"].append({"username": acc["username"], "error": f"{type(e).__name__}: {e}"})
                if exp is not None:           # recorded but not delivered: no copy stays
                    Path(exp["path"]).unlink(missing_ok=True)
                    sg.update_export(archive, exp["id"], purged_at=sg.now())
                audit.record(archive, actor="system", role="admin", action="alert_failed", purpose="journalism",
                             objects={"alert_match": [m["id"] for m in keep]},
                             details={"recipient_account": acc["id"], "error": type(e).__name__})
                log.info("digest to %s failed: %s", acc["username"], e)   # (said by the caller: res["failed"])
                continue
            store.mark_sent(archive, shown_ids, at=marker, export_record_id=exp["id"])
            store.release(archive, [m["id"] for m in keep if m["id"] not in set(shown_ids)], marker)
            res["messages"] += 1
            res["matches_sent"] += len(shown_ids)
            res["withheld"] += len(keep) - len(shown_ids)
    finally:
        try:
            conn.quit()
        except Exception:
            pass
    res["sent"] = res["messages"]
    return res


def releasable(archive, viewer, ms: list[dict], *, purpose: str, keyring, profile, output: str,
               now: dt.datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Split matches (rows of `store.unsent` / `store.account_matches`) into those that may be shown
    to ``viewer`` and those held back: the gate withholds the listing (s.4(2) order, sensitivity,
    spent conviction, contempt rule), or an identity-kind match (name, search, person, network)
    would identify a party whose identity the gate withholds.  A trial disclosure, not audited:
    what is then shown is disclosed (and audited) by its output.  Digests and the in-app feed
    (`notifications`) hold back exactly the same matches."""
    from ..governance.gate import disclose
    from ..store import outputs

    if not ms:
        return [], []
    want: dict[int, list[int]] = {}
    for m in ms:
        want.setdefault(m["case_id"], []).append(m["hearing_id"])
    records = outputs.cases_with_hearings(archive, want)
    ctx = {"archive": archive, "keyring": keyring, "profile": profile, "output": output, "now": now,
           "shareable": True, "audit": False}
    trial = disclose(records, viewer, purpose=purpose, context=ctx)
    shown = {h["id"]: h for _, h in _walk_hearings(trial.records)}
    keep, held = [], []
    for m in ms:
        h = shown.get(m["hearing_id"])
        if h is None:
            held.append(m)
            continue
        if m["kind"] in IDENTITY_KINDS:
            sub = {"id": m["subscription_id"], "kind": m["kind"], "query": m["query"], "params": m["params"]}
            hits = _rematch(archive, sub, m["hearing_id"], viewer=viewer, now=now, keyring=keyring, profile=profile)
            parties = {p["id"]: p for p in h.get("parties") or []}
            if not hits or not all(_identity_disclosed(parties.get(pid)) for pid in hits if pid is not None):
                held.append(m)
                continue
        keep.append(m)
    return keep, held


# =========================================================================== in-app notifications
#: the newest matches the in-app feed looks at (older ones stay in the database, not in the feed)
FEED_CAP = 500
#: unread matches the nav badge checks (more: the badge reads "N+")
BADGE_CAP = 50
TRACK_KINDS = ("case", "person", "network")


def notifications(archive, viewer, *, purpose: str, keyring=None, profile=None, limit: int = 20, offset: int = 0,
                  unread_only: bool = False, base_url: str = "", now: dt.datetime | None = None) -> dict:
    """The in-app feed of ``viewer``'s alert matches (active subscriptions, newest first): each
    event with its case, court and date, disclosed through the gate for the viewer's role exactly as
    a digest would be (`releasable` holds back the same matches; only the page shown is disclosed
    and audited, output ``notifications``).  Returns {notifications, total, unread, unread_more,
    limit, offset, flags, withheld}; ``total`` counts what the viewer may see, ``unread`` and
    ``unread_more`` are the nav badge's count (`_unread`: the page and the badge say one thing)."""
    from ..governance.gate import disclose
    from ..store import outputs

    acc = _account(archive, viewer.username)
    limit = max(1, min(int(limit), 100))
    offset = max(0, int(offset))
    ms = store.account_matches(archive, acc["id"], unread_only=unread_only, limit=FEED_CAP)
    keep, _held = releasable(archive, viewer, ms, purpose=purpose, keyring=keyring, profile=profile,
                             output="notifications", now=now)
    page = keep[offset:offset + limit]
    unread, more = _unread(archive, acc["id"], viewer, purpose=purpose, keyring=keyring, profile=profile, now=now)
    res = {"notifications": [], "total": len(keep), "unread": unread, "unread_more": more,
           "limit": limit, "offset": offset, "flags": [], "withheld": {}}
    if not page:
        return res
    want: dict[int, list[int]] = {}
    for m in page:
        want.setdefault(m["case_id"], []).append(m["hearing_id"])
    d = disclose(outputs.cases_with_hearings(archive, want), viewer, purpose=purpose,
                 context={"archive": archive, "keyring": keyring, "profile": profile, "output": "notifications",
                          "shareable": True, "now": now})
    by_match = {e["match_id"]: e for sec in _digest_items(page, d.records, d.flags, base_url.rstrip("/"))
                for e in sec["entries"]}
    for m in page:
        e = by_match.get(m["id"])
        if e is None:                 # the gate changed its mind between the trial and now: not shown
            continue
        e = {k: v for k, v in e.items() if k != "unsubscribe_url"}
        e.update(kind=m["kind"], seen=m["seen_at"] is not None, followed=_followed_path(m))
        res["notifications"].append(e)
    res["flags"], res["withheld"] = d.flags, d.withheld
    return res


def unread_count(archive, viewer, *, purpose: str, keyring=None, profile=None, now: dt.datetime | None = None
                 ) -> tuple[int, bool]:
    """(unread notifications the viewer may see, more than `BADGE_CAP`?) -- for the nav badge; a trial
    disclosure, not audited (the feed itself is)."""
    import time

    from ..store import governance as sg

    acc = sg.get_account(archive, viewer.username)
    if acc is None:
        return 0, False
    state = store.unread_state(archive, acc["id"])
    if not state[0]:
        return 0, False
    # the same unread matches for the same role: the answer of the last minute stands (a restriction
    # lifted or imposed since shows within BADGE_TTL seconds; the feed itself is never cached)
    key = (str(archive.engine.url), acc["id"], viewer.effective_role(now), purpose)
    hit = _BADGE_CACHE.get(key)
    if hit is not None and hit[0] == state and time.monotonic() - hit[1] < BADGE_TTL:
        return hit[2]
    out = _unread(archive, acc["id"], viewer, purpose=purpose, keyring=keyring, profile=profile, now=now)
    if len(_BADGE_CACHE) > 10_000:
        _BADGE_CACHE.clear()
    _BADGE_CACHE[key] = (state, time.monotonic(), out)
    return out


BADGE_TTL = 60.0
_BADGE_CACHE: dict[tuple, tuple] = {}


def _unread(archive, account_id: int, viewer, *, purpose: str, keyring=None, profile=None,
            now: dt.datetime | None = None) -> tuple[int, bool]:
    """The one definition of "unread" that the nav badge and the Tracking page (and the feed's
    JSON) show: the account's unread matches the viewer may see (`releasable`), counted up to
    `BADGE_CAP` -- (BADGE_CAP, True) when there are more, shown "50+".  The page had counted the
    unread ones among the feed's newest `FEED_CAP` matches (87) while the badge said "50+"; and the
    badge, looking at the newest 50 unread only, said "47" when 3 of them were held back and more
    lay beyond.  Unread matches are read newest first, `BADGE_CAP` + 1 at a time (once, as a rule),
    until more than `BADGE_CAP` may be seen or `FEED_CAP` were looked at."""
    n, offset = 0, 0
    while offset < FEED_CAP:
        ms = store.account_matches(archive, account_id, unread_only=True, limit=BADGE_CAP + 1, offset=offset)
        keep, _ = releasable(archive, viewer, ms, purpose=purpose, keyring=keyring, profile=profile,
                             output="notifications", now=now)
        n += len(keep)
        if n > BADGE_CAP:
            return BADGE_CAP, True
        if len(ms) <= BADGE_CAP:
            break
        offset += len(ms)
    return n, False


def mark_seen(archive, viewer, match_ids: list[int] | None = None, *, purpose: str, keyring=None, profile=None,
              now: dt.datetime | None = None) -> int:
    """Mark notifications seen: the given ones (of the viewer's own), or every unread one the viewer
    may see (matches held back by the gate stay unread: they appear when the restriction ends)."""
    acc = _account(archive, viewer.username)
    ms = store.account_matches(archive, acc["id"], unread_only=True, limit=FEED_CAP)
    keep, _ = releasable(archive, viewer, ms, purpose=purpose, keyring=keyring, profile=profile,
                         output="notifications", now=now)
    ids = [m["id"] for m in keep]
    if match_ids is not None:
        want = {int(x) for x in match_ids}
        ids = [i for i in ids if i in want]
    return store.mark_seen(archive, acc["id"], ids, at=now or _now()) if ids else 0


def _followed_path(m: dict) -> str | None:
    p = m.get("params") or {}
    if m["kind"] == "case":
        # (the case followed, by id: its query may be a case number several cases share)
        return f"/cases/id:{p['case_id']}" if p.get("case_id") else f"/cases/{quote(str(m['query']), safe='')}"
    if m["kind"] == "person":
        return f"/persons/{p.get('person_id') or m['query']}"
    if m["kind"] == "network":
        return f"/networks/{p.get('network_id') or m['query']}"
    return None


def _rematch(archive, sub: dict, hearing_id: int, *, viewer=None, now: dt.datetime | None = None,
             keyring=None, profile=None) -> list[int | None]:
    """The party ids of a hearing that an identity-kind subscription matched (None: a facet-only
    search), for ``viewer`` (a case search's whole reference counts as they may see it)."""
    hs = store.hearings_by_id(archive, [hearing_id])
    if not hs:
        return []
    batch = _Batch(archive, hs, now=now, viewer=viewer, keyring=keyring, profile=profile)
    return [pid for _, _, _, pid in match(archive, [sub], {sub["id"]: hs}, batch)]


# =========================================================================== governance hook
def governance_hook(ev) -> dict:
    """Expiry / erasure (``governance.hooks``): unsent matches about the expired or erased listings
    leave the alert queue (sent ones keep only ids)."""
    if ev.dry_run:
        return {"unsent_matches_dropped": 0}
    n = store.drop_unsent_for(ev.archive, hearing_ids=ev.hearing_ids, publication_ids=ev.publication_ids)
    return {"unsent_matches_dropped": n}
