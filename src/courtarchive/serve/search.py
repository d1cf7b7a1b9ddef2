"""Name and case search: the index (`search_name`), kept in step with ingest, linkage, expiry and
erasure, and the fuzzy query engine.  The SQL is in `store.search`; this module normalises,
builds keys and ranks.

Index rows
    One per party mention of a current publication that names a natural person (defendants,
    applicants, respondents ...; never authorities, lawyers, masked or pseudonymised parties; and
    complainants are never parties at all).  ``name_norm`` is the name folded as the pseudonym
    module folds names (accents, case, apostrophes, punctuation, titles, particles joined) but
    *without* the nickname mapping, in listed order (forenames, middle names, surname).
    ``name_keys`` are the variant keys of every word, space-separated:

    ``e<word>``      the word, its nickname-table canonical form (Bob -> robert), and every form
                     of either with one letter deleted (symmetric-deletion keys: two words within
                     one edit - insertion, deletion, substitution, adjacent swap - share a key)
    ``a<letters>``   the word's letters sorted (4+ letters): any number of swapped letters
                     (Smyth/Symht) share it
    ``p<metaphone>`` the Metaphone code (jellyfish) of the word and of its canonical form
                     (Thompson/Tomson, Stephen/Steven: two edits apart, one code)
    ``t<trigram>``   (stored names only) every three-letter run of the word, and
    ``h<2 letters>`` the first two letters of each ``e`` key: the two-edit look-up asks the key
                     index for a key of one query word AND a trigram or the first letters of
                     another, in one query on either backend (migration 0013)

Names
    The engine indexes are on ``search_key``, one row per distinct ``name_norm`` with its keys
    (store.search): every pass below looks up *names*, ranks each name once, and only then reads
    the mentions (``search_name`` rows) of the names scoring at least MIN_SCORE, best names first,
    with the facet filters.  At 1M mentions that is 631k names, and a common name is one row.

Queries
    Pass 1: names where two query words (the only word of a one-word query) appear as written or
    in canonical form - exact names, nicknames and variants, any order, middle names missing or
    extra, a letter left out.  Only when nothing scores well (best < RELAX_BELOW) do the wider
    passes run.  Pass 2: one word within one edit (the deletion keys on both sides), with swapped
    letters or sounding alike, the other as written; rows containing every query word of 3+
    letters as a substring (trigram FTS5 / pg_trgm LIKE: partial names).  Pass 3: both words
    within one edit, then two edits in one word (keys of one word, and a trigram or the first two
    letters of the others).  Both backends run the same passes over the same keys, so they give
    the same answers (PostgreSQL's pg_trgm similarity, ``OPERATOR(public.%)``, was a pass 3
    look-up of its own until session 7: 160-290 ms a query at 1M names).  Why in passes: the deletion keys of common names have long posting lists
    (every Smith is under "smth", "smih", ...) and OR-ing a dozen of them per word is what costs
    (bench/RESULTS.md); most queries are answered by pass 1.  Ranking is in Python with
    jellyfish (Jaro-Winkler, Damerau-Levenshtein, Metaphone; `serve.ranking`) over a best word-to-word
    assignment, so order does not matter (swapped forename/surname; "SURNAME, Forenames" is read
    as lists write it), missing or extra middle names cost a little, nicknames almost nothing.
    Hits are grouped: a linked person (``person_id``) appears once with their best mention; an
    unlinked mention stands for itself.

What comes out is ids, dates and scores - never a name: the web/API layer fetches the records
and passes them through ``governance.disclose`` (which decides what each role may see).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import Counter
from functools import lru_cache
from itertools import combinations
from typing import Callable

from ..governance.pseudonym import name_words
from ..store import search as ss
from .ranking import _metaphone, canonical, score_name  # noqa: F401  (score_name: the engine's ranking)

log = logging.getLogger("courtarchive.serve")

#: rows fetched for ranking at most (a bound on the work of one query; `total_exact` says when hit)
CANDIDATE_CAP = 2000
#: mentions a caller's disclosure check (``search_names(hide=...)``) is asked about, best first
HIDE_CAP = 100
SINGLE_WORD_CAP = 1000
RELAXED_CAP = 2000
#: a hit needs at least this score
MIN_SCORE = 0.75
#: below this best score the relaxed (two-edit) pass runs as well
RELAX_BELOW = 0.9
MAX_LIMIT = 200


class SearchError(ValueError):
    """Bad search input (the message says what to change)."""


# =========================================================================== normalisation and keys
def words(name: str | None) -> list[str]:
    """The folded words of a name in the order given: `pseudonym.name_words` without the variant
    mapping (accents, case, apostrophes, punctuation, leading titles, particles joined)."""
    return name_words(name or "", variants=False)


@lru_cache(maxsize=200_000)
def word_keys(word: str) -> frozenset[str]:
    """The variant keys of one folded word (see the module docstring)."""
    out: set[str] = set()
    for x in {word, canonical(word)}:
        out.add("e" + x)
        if len(x) >= 3:
            out.update("e" + x[:i] + x[i + 1:] for i in range(len(x)))
        if len(x) >= 4:
            out.add("a" + "".join(sorted(x)))
        if len(x) >= 2:
            m = _metaphone(x)
            if m:
                out.add("p" + m)
    return frozenset(out)


@lru_cache(maxsize=200_000)
def exact_keys(word: str) -> frozenset[str]:
    """The cheapest keys of a query word (pass 1): the word and its canonical form.  Against the
    stored keys (which hold the deletions) they find the word as written, its nicknames and
    variants, and a stored word the query left a letter out of."""
    return frozenset({"e" + word, "e" + canonical(word)})


def name_keys(ws: list[str]) -> str:
    return _name_keys(" ".join(ws))


@lru_cache(maxsize=200_000)
def _name_keys(name_norm: str) -> str:
    """The keys a stored name is indexed under: every word's variant keys and trigram keys."""
    return " ".join(sorted(frozenset().union(*map(_stored_word_keys, name_norm.split()))))


@lru_cache(maxsize=200_000)
def _stored_word_keys(w: str) -> frozenset[str]:
    """One word's share of a stored name's keys: its variant keys, its trigram keys and the first
    two letters of each ``e`` key -- per word, not per name: names share their words (the same
    surnames and forenames in ~45k names per 25k cases), and these were most of an index build's
    Python."""
    wk = word_keys(w)
    t, h = ss.TRIGRAM_KEY, ss.HEAD_KEY
    return wk.union([t + w[i:i + 3] for i in range(len(w) - 2)],
                    [h + k[1:3] for k in wk if k[0] == "e" and len(k) >= 3])


@lru_cache(maxsize=65_536)
def _words_of(name: str | None) -> tuple[str, ...]:
    """`words` for building the index: a person's name comes back hearing after hearing (folding
    it was a quarter of an index build).  Emptied when each build or refresh ends (`_fill`)."""
    return tuple(words(name))


def _split_name(forenames, middle, surname, as_listed) -> tuple[list[str], list[str], list[str]]:
    """(all words in listed order, surname words, forename+middle words)."""
    sur = list(_words_of(surname))
    fore = list(_words_of(forenames) + _words_of(middle))
    if not sur and not fore:
        allw = list(_words_of(as_listed))
        if "," in (as_listed or ""):                     # "SURNAME, Forenames"
            head, _, tail = as_listed.partition(",")
            sur, fore = list(_words_of(head)), list(_words_of(tail))
            return fore + sur, sur, fore
        return allw, allw[-1:], allw[:-1]
    return fore + sur, sur, fore


@lru_cache(maxsize=4096)
def _groups_of(codes: str | None) -> str | None:
    if not codes:
        return None
    from ..data.reference import offence_by_code

    gs = sorted({o["offence_group"] for c in codes.split(",") if (o := offence_by_code(c)) and o.get("offence_group")})
    return " ".join(gs) or None


def _index_row(r: tuple) -> tuple | None:
    (party_id, person_id, case_id, hearing_id, court_id, sitting_date, role, fore, middle, sur, listed, dob,
     town, codes) = r
    allw, surw, forew = _split_name(fore, middle, sur, listed)
    if not allw:
        return None
    by = None
    if dob is not None:
        by = dob.year if hasattr(dob, "year") else int(str(dob)[:4])
    return (party_id, person_id, case_id, hearing_id, court_id, sitting_date, role, " ".join(allw),
            " ".join(surw) or None, " ".join(forew) or None, name_keys(allw), by, town, _groups_of(codes))


# =========================================================================== maintenance
def _fill(archive, conn, **kw) -> int:
    n = 0
    try:
        for batch in ss.source_rows(archive, conn, **kw):
            rows = [x for r in batch if (x := _index_row(r)) is not None]
            n += ss.insert_rows(archive, conn, rows)
    finally:
        # names (and their words) are not kept in memory past the build
        _words_of.cache_clear()
        _name_keys.cache_clear()
        _stored_word_keys.cache_clear()
    return n


def refresh(archive, report=None) -> dict:
    """Bring the index up to date (after an ingest, a link run, or on its own): remove rows of
    superseded publications and of pseudonymised/masked parties, add parties not yet indexed,
    set person ids from the latest linkage.  One transaction; bulk SQL throughout."""
    t0 = time.perf_counter()
    with ss.writer(archive) as conn:
        ss.lock(archive, conn)
        removed = ss.delete_stale(archive, conn)
        with ss.first_build(archive, conn):
            added = _fill(archive, conn, missing_only=True)
        persons = ss.sync_persons(archive, conn)
        if added:
            ss.merge_pending(archive, conn)
    archive._forget_ids()
    gone = sum(removed.values())
    ss.settle(archive, changed=added + gone, removed=gone)
    return {"added": added, **removed, "person_ids_updated": persons,
            "seconds": round(time.perf_counter() - t0, 3)}


def rebuild(archive) -> dict:
    """Empty the index and build it again from the archive (one transaction: searches read the
    old index until it commits; PostgreSQL then vacuums the old rows away)."""
    t0 = time.perf_counter()
    with ss.writer(archive) as conn:
        ss.lock(archive, conn)
        cleared = ss.clear(archive, conn)
        added = _fill(archive, conn, missing_only=False)
        ss.merge_pending(archive, conn)
    archive._forget_ids()
    ss.settle(archive, changed=cleared + added, removed=cleared, rebuilt=True)
    return {"cleared": cleared, "added": added, "seconds": round(time.perf_counter() - t0, 3)}


def status(archive) -> dict:
    """Rows, linked persons, parties waiting to be indexed (``missing``)."""
    return ss.status(archive)


def governance_hook(ev) -> dict:
    """Expiry and erasure reach the index: rows of the parties the run touched are removed and
    re-derived from what the archive now holds (a pseudonymised party is not indexed again; a
    party whose personal fields alone expired comes back without them); then the engine
    indexes are purged of the deleted postings."""
    if ev.dry_run or not ev.party_ids:
        return {"removed": 0, "reindexed": 0}
    archive = ev.archive
    with ss.writer(archive) as conn:
        ss.lock(archive, conn)
        if archive.sqlite:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        removed = ss.delete_parties(archive, conn, ev.party_ids)
        added = _fill(archive, conn, party_ids=ev.party_ids, missing_only=True) if removed else 0
        if added:
            ss.merge_pending(archive, conn)
    archive._forget_ids()
    out = {"removed": removed, "reindexed": added}
    if removed:
        out.update(ss.purge_deleted(archive))
    return out


# =========================================================================== queries
def _check_paging(limit: int, offset: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise SearchError(f"offset must be 0 or more, not {offset!r}")


def _day(v, what: str) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise SearchError(f"{what} must be a date YYYY-MM-DD, not {v!r}") from None


def _filters(court_id, date_from, date_to, offence_group, role) -> dict:
    f = {"court_id": court_id, "date_from": _day(date_from, "date_from"), "date_to": _day(date_to, "date_to"),
         "offence_group": offence_group or None, "role": (role or "").upper() or None}
    if f["date_from"] and f["date_to"] and f["date_from"] > f["date_to"]:
        raise SearchError("date_from is after date_to")
    if f["offence_group"] and f["offence_group"] not in offence_groups():
        raise SearchError(f"unknown offence group {offence_group!r}: one of {', '.join(sorted(offence_groups()))}")
    if court_id is not None:
        try:
            f["court_id"] = int(court_id)
        except (TypeError, ValueError):
            raise SearchError(f"court_id must be a number, not {court_id!r}") from None
    return f


@lru_cache(maxsize=1)
def offence_groups() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The declared offence groups: group -> (its offence codes, their titles)."""
    from ..data.reference import offence_groups as groups

    return {g: (tuple(o["code"] for o in rows), tuple(dict.fromkeys(o["title"] for o in rows)))
            for g, rows in groups().items()}


def search_names(archive, q: str, *, court_id: int | None = None, date_from: dt.date | None = None,
                 date_to: dt.date | None = None, offence_group: str | None = None, role: str | None = None,
                 limit: int = 20, offset: int = 0, exhaustive: bool = False,
                 hide: Callable[[list[tuple[int, int]]], set[int]] | None = None) -> dict:
    """Fuzzy person-name search.  Returns ``{"query": {...}, "total": groups, "total_exact": bool,
    "hits": [{party_id, person_id, case_id, hearing_id, court_id, sitting_date, score,
    matched_on, mentions}], "facets": {"court": {id: n}, "year": {yyyy: n}, "offence_group": {g: n}},
    "took_ms": float, "passes": 1-3, "candidates": distinct names ranked, "mentions": rows read}``.
    Facets count matching mentions; ``total`` counts groups (a linked person once, an unlinked
    mention once).  No name is returned.
    Each pass looks up distinct *names* (search_key), ranks each once, then reads the mentions of
    those scoring at least MIN_SCORE, best names first, with the filters.  The wider (typo) passes
    run only when no mention close enough was found, unless ``exhaustive``: then "John Smith" also
    brings "Jon Smyth" (slower: see bench/RESULTS.md).
    ``hide``: given every matching mention as (party id, case id), the party ids to leave out --
    the caller's disclosure check (a youth's name, an anonymity order): they count nowhere, not in
    ``total``, the facets nor the pages, nor in whether the wider passes run (the answer is the one
    an index without them gives; only ``candidates``, ``took_ms`` -- engine diagnostics the portal
    does not pass on -- can tell)."""
    t0 = time.perf_counter()
    _check_paging(limit, offset)
    if not isinstance(q, str):
        raise SearchError("the query must be text")
    head, comma, tail = q.partition(",")
    qw = (words(tail) + words(head) if comma else words(q))[:6]      # "SURNAME, Forenames" as lists write it
    if not qw or not any(len(w) >= 2 for w in qw):
        raise SearchError("give a name to search for (at least two letters)")
    f = _filters(court_id, date_from, date_to, offence_group, role)
    full = [sorted(word_keys(w)) for w in qw]
    exact = [sorted(exact_keys(w)) for w in qw]
    combos = list(combinations(range(len(qw)), min(2, len(qw))))
    subs = [w for w in qw if len(w) >= 3]
    cap = CANDIDATE_CAP if len(qw) >= 2 else SINGLE_WORD_CAP
    names: dict[str, tuple[float, str]] = {}        # every name ranked: name_norm -> (score, how)
    scored: dict[int, tuple] = {}                   # mentions of the names that scored: party id -> (score, row)
    state = {"capped": False, "best": 0.0}
    low = "" if archive.sqlite else dt.date.min
    checked: set[int] = set()                       # mentions ``hide`` was asked about

    def disclosed() -> None:
        """Leave out the mentions ``hide`` withholds (asked once about each, the best HIDE_CAP; the
        rest are left out unchecked -- counted nowhere, so a common name's total and facets cover
        its best mentions, "more than", total_exact false) and take the best score again from what
        is left.  Asked before each decision to run a wider pass as well as at the end: a withheld
        exact name must not stop the typo passes, or "nothing for Ptolemy Wrenfield, yet Ptolemy
        Wrenfeld for a misspelling of it" would tell that someone of that name is withheld."""
        nonlocal scored
        if hide is None or not scored:
            return
        if len(scored) > HIDE_CAP:
            scored = dict(sorted(scored.items(), key=lambda kv: (kv[1][0], kv[1][1][5] or low),
                                 reverse=True)[:HIDE_CAP])
            state["capped"] = True
        new = [(pid, r[2]) for pid, (_sc, r) in scored.items() if pid not in checked]
        if new:
            checked.update(pid for pid, _c in new)
            for pid in hide(new):
                scored.pop(pid, None)
        state["best"] = max((sc for sc, _r in scored.values()), default=0.0)

    def close() -> bool:
        """Whether a mention close enough (RELAX_BELOW) was found: no wider pass is needed."""
        if state["best"] >= RELAX_BELOW:
            disclosed()
        return state["best"] >= RELAX_BELOW

    def paired() -> bool:
        """Whether a mention's name pairs every query word closely (a 3+ word query's pass 1)."""
        return any(sc >= RELAX_BELOW and "extra_word" not in names[r[6]][1] for sc, r in scored.values())

    def take(found: list[tuple], name_cap: int) -> None:
        state["capped"] |= len(found) >= name_cap
        new = []
        for _kid, n in found:
            if n not in names:
                # (serve.ranking keeps its own per-query tables: a name scored again - the next
                # page, a pass that finds it again - costs a dictionary look-up per word)
                names[n] = sc = score_name(qw, n.split())
                if sc[0] >= MIN_SCORE:
                    new.append((sc[0], n))
        if not new:
            return
        new.sort(reverse=True)
        left = cap - len(scored)
        rows = ss.mentions(archive, [n for _s, n in new], filters=f, cap=left)
        state["capped"] |= len(rows) >= left
        for r in rows:
            sc = names[r[6]][0]
            scored[r[0]] = (sc, r)
            if sc > state["best"]:
                state["best"] = sc

    def fetch(clauses, substrings=(), sized=()) -> None:
        take(ss.candidates(archive, clauses=clauses, substrings=list(substrings), cap=cap,
                           sized=sized), cap)

    # pass 1: two query words (one for a one-word query) as written or as their canonical form.
    # Of n >= 3 words, first every word, or w of them in a name of w < n words (a middle name the
    # list leaves out); only when no name pairs every query word that closely, any two words
    # (a typo in the third).  Common forenames make "any two" thousands of names at 1M people,
    # each ranked and its mentions read: the exact 3-word queries' p95 went from 19 to 7 ms.
    # (Every decision to look wider is taken on the mentions ``hide`` leaves: `close`, `paired`.)
    if len(qw) >= 3:
        n = len(qw)
        fetch([[exact[i] for i in range(n)]],
              sized=[([[exact[i] for i in c] for c in combinations(range(n), n - 1)], n - 1)])
        if paired():
            disclosed()
        if not paired():
            fetch([[exact[i] for i in c] for c in combos])
    else:
        fetch([[exact[i] for i in c] for c in combos])
    passes = 1
    if exhaustive or not close():
        # pass 2: one word within one edit (deletion keys), swapped letters or sounding alike, the
        # other as written; substrings (partial names: trigram index)
        passes = 2
        # (a clause needs the other words as written: a mistyped word - typically not in the index
        # at all - is probed once, and the clauses that need it are left out instead of asking the
        # index for a key of a common word AND a key nothing has: typos in both words skip this
        # look-up entirely)
        known = [ss.any_key(archive, exact[i]) for i in range(len(qw))] if len(qw) >= 2 else [True]
        fetch([[full[j] if j == i else exact[j] for j in c] for c in combos for i in c
               if all(known[j] for j in c if j != i)], subs)
        if exhaustive or not close():
            # pass 3: both words within one edit; then two edits in one word (keys of one word,
            # a trigram or the first two letters of the others)
            passes = 3
            if len(qw) >= 2:
                fetch([[full[i] for i in c] for c in combos])
            if len(qw) >= 2 and (exhaustive or not close()):
                # (only when one edit per word found nothing close: the keys of a common forename
                # reach tens of thousands of names at 1M, the costliest look-up of all)
                # a word found in the index as written is tried as written first (its one-edit
                # keys: every Brian and Bryant of a common Bryan), and with them only when that
                # finds nothing close either
                def relaxed(i: int, keys: list[str]) -> None:
                    others = [x for j, x in enumerate(qw) if j != i and len(x) >= 3]
                    grams = sorted({x[k:k + 3] for x in others for k in range(len(x) - 2)})
                    heads = sorted({x[:2] for x in others})
                    take(ss.relaxed_candidates(archive, keys=keys, grams=grams, heads=heads, cap=RELAXED_CAP),
                         RELAXED_CAP)

                for i in range(len(qw)):
                    if known[i]:
                        relaxed(i, exact[i])
                for i in range(len(qw)):
                    if not known[i] or exhaustive or not close():
                        relaxed(i, full[i])
    disclosed()
    capped = state["capped"]
    # one pass over the mentions (hundreds for a common name): facets, and per group (a linked
    # person once, an unlinked mention once) its best mention (score, then latest date) and count;
    # dates stay as the driver returns them (SQLite: ISO text, which orders the same) until the end
    vals = list(scored.values())
    groups: dict[int, list] = {}                    # person id, or -party id -> [score, date, row, mentions]
    for sc, r in vals:
        gk = r[1] if r[1] is not None else -r[0]
        d = r[5] or low
        cur = groups.get(gk)
        if cur is None:
            groups[gk] = [sc, d, r, 1]
        else:
            cur[3] += 1
            if (sc, d) > (cur[0], cur[1]):
                cur[0], cur[1], cur[2] = sc, d, r
    # facets: counted over the raw values (a common name's hundreds of mentions), split at the end
    years: Counter = Counter(r[5][:4] if isinstance(r[5], str) else r[5].year for _sc, r in vals if r[5])
    offence_groups: Counter = Counter()
    for g, n in Counter(r[7] for _sc, r in vals if r[7]).items():
        for x in g.split():
            offence_groups[x] += n
    facets = {"court": Counter(r[4] for _sc, r in vals), "year": Counter({int(y): n for y, n in years.items()}),
              "offence_group": offence_groups}
    # best first: score, then the latest date, then the lowest party id (two stable sorts); only
    # the page asked for becomes hits
    order = sorted(groups.values(), key=lambda g: g[2][0])
    order.sort(key=lambda g: (g[0], g[1]), reverse=True)
    hits = []
    for sc, _d, r, n in order[offset:offset + limit]:
        party_id, person_id, case_id, hearing_id, court_id_, day, name, _g = r
        hits.append({"party_id": party_id, "person_id": person_id, "case_id": case_id, "hearing_id": hearing_id,
                     "court_id": court_id_, "sitting_date": ss._date(archive, day), "score": sc,
                     "matched_on": names[name][1], "mentions": n})
    return {
        "query": {"q": q, "words": len(qw), "court_id": f["court_id"], "date_from": f["date_from"],
                  "date_to": f["date_to"], "offence_group": f["offence_group"], "role": f["role"],
                  "limit": limit, "offset": offset},
        "total": len(groups), "total_exact": not capped,
        "hits": hits,
        "facets": {k: dict(v.most_common()) for k, v in facets.items()},
        "candidates": len(names), "mentions": len(scored), "passes": passes,
        "took_ms": round((time.perf_counter() - t0) * 1000, 3),
    }


def _offence_codes(text: str) -> tuple[list[str], list[str]]:
    """Reference offence codes whose title holds every word of `text` (and a code typed as such)."""
    from ..data.reference import offence_by_code, offences

    ws = [w for w in re.findall(r"[a-z0-9]+", text.casefold()) if len(w) >= 2]
    if not ws:
        return [], []
    codes = []
    for o in offences():
        title = set(re.findall(r"[a-z0-9]+", o["title"].casefold()))
        if all(any(t.startswith(w) for t in title) for w in ws):
            codes.append(o["code"])
    one = text.strip().upper()
    if offence_by_code(one) and one not in codes:
        codes.append(one)
    return sorted(codes), ws


_REF = re.compile(r"[A-Z0-9/\-]{3,}")


def case_ref(q: str) -> str | None:
    """``q`` as a URN or case number (spaces and case ignored; it must hold a digit), else None --
    how the case search tells a reference from offence words (saved searches read it alike)."""
    ref = re.sub(r"\s+", "", q or "").upper()
    return ref if _REF.fullmatch(ref) and re.search(r"\d", ref) else None


def whole_ref_listed(archive, ref: str, *, court_id: int | None = None, offence_group: str | None = None,
                     seen: Callable[[dict[int, list[tuple]]], dict[int, list[int]]] | None = None) -> bool:
    """Is ``ref`` (as `case_ref` gives it) the whole URN or case number of a case with a current
    listing that passes these facets -- with ``seen`` (as `search_cases` takes it: the viewer's
    disclosure check, hearing by hearing), a listing the viewer may see?  Then `search_cases` finds
    that case (cases) alone, else it reads ``ref`` as the start of longer ones; a case-mode saved
    search follows the same rule (`serve.alerts`, with its subscriber's check).  A whole-reference
    case the viewer may not see counts nowhere: the prefix's matches, as in an archive without it
    (answered without that check, a saved search followed the hidden case alone -- whose hearings
    the gate then withheld -- and the prefix alerts stopped: saying that such a case exists)."""
    f = _filters(court_id, None, None, offence_group, None)
    if f["offence_group"]:
        f["offence_codes"], f["offence_titles"] = offence_groups()[f["offence_group"]]
    rows = ss.cases_by_ref(archive, ref, filters=f, whole=True, cap=1 if seen is None else HIDE_CAP)
    return bool(rows if seen is None else _as_seen(archive, rows, f, seen))


def _as_seen(archive, rows: list[tuple], f: dict, seen: Callable[[dict[int, list[tuple]]], dict[int, list[int]]]
             ) -> list[tuple]:
    """Case rows (case id, urn, case number, ...) as (case id, urn, case number, last date,
    hearings, court, hearing id) of their current hearings passing the filters ``f`` that ``seen``
    (the viewer's check) leaves: the latest of them, how many; cases with none left out."""
    if not rows:
        return rows
    hs = ss.case_hearings(archive, [r[0] for r in rows], filters=f)
    ok = seen({r[0]: hs.get(r[0], []) for r in rows})
    out = []
    for r in rows:
        mine = set(ok.get(r[0]) or ())
        keep = [h for h in hs.get(r[0], []) if h[0] in mine]
        if keep:
            last = max(keep, key=lambda h: (h[1] or dt.date.min, h[0]))
            out.append((r[0], r[1], r[2], last[1], len(keep), last[2], last[0]))
    out.sort(key=lambda r: (-(r[3] or dt.date.min).toordinal(), r[0]))
    return out


def _hid(row: tuple) -> dict:
    """``hearing_id``: the hearing a case-search hit shows, when the viewer's check chose it
    (``seen``); nothing otherwise."""
    return {"hearing_id": row[6]} if len(row) > 6 else {}


def search_cases(archive, q: str, *, court_id: int | None = None, date_from: dt.date | None = None,
                 date_to: dt.date | None = None, offence_group: str | None = None, limit: int = 20,
                 offset: int = 0, hide: Callable[[list[int]], set[int]] | None = None,
                 seen: Callable[[dict[int, list[tuple]]], dict[int, list[int]]] | None = None) -> dict:
    """Cases by URN or case number (the whole of one, else as a prefix; spaces and case ignored),
    else by offence title words (every word a prefix of a word of the title: "sexual ass" finds
    sexual assault); with no query, the cases the filters alone select (a court, dates, an offence
    group: at least one).  Hits:
    ``{case_id, urn, case_number, court_id, sitting_date (latest), hearings, score, matched_on}``
    (public facts only; never the case key, which can hold a defendant's name).
    ``hide``: given the matching case ids, those to leave out -- the caller's disclosure check (a
    list its role may not see, a case withheld whole): they count nowhere, not in ``total`` nor the
    pages.  It is asked about the matches up to HIDE_CAP past the page's end (in the order
    given: the work grows with the page asked for, not with how common a court or offence is); the
    rest are left out unchecked (``total_exact`` false: "more than", and a next page while the
    window held one); a whole reference's own cases are asked about first.
    ``seen`` (in place of ``hide``): given each matching case's current hearings that pass the
    filters, as (hearing id, sitting date, court id, publication id), the ids of those the viewer
    may see, per case -- the caller's disclosure check hearing by hearing.  A case with none is
    left out as ``hide`` leaves it; each other hit shows the latest hearing the viewer may see
    (``sitting_date``, ``court_id``, ``hearing_id``), counts those (``hearings``) and is ordered
    by that date: a hit's latest listing on a list the viewer may not see (a CLASSIFIED list, for
    the public) showed no court or date, counted in ``hearings`` and set the order -- each of them
    saying that such a listing exists."""
    t0 = time.perf_counter()
    _check_paging(limit, offset)
    if q is not None and not isinstance(q, str):
        raise SearchError("the query must be text")
    q = (q or "").strip()
    f = _filters(court_id, date_from, date_to, offence_group, None)
    if f["offence_group"]:
        f["offence_codes"], f["offence_titles"] = offence_groups()[f["offence_group"]]
    state = {"exact": True}
    checked = hide is not None or seen is not None

    def disclosed(rows: list[tuple], total: int) -> tuple[list[tuple], int]:
        """The rows read (of `total` matches in all) that ``hide`` (``seen``) leaves, and how many
        there are; with ``seen``, each as the viewer may see it, latest first."""
        if not checked:
            return rows, total
        state["exact"] = total <= len(rows)
        if seen is not None:
            return (rows := _as_seen(archive, rows, f, seen)), len(rows)
        gone = hide([r[0] for r in rows]) if rows else set()
        rows = [r for r in rows if r[0] not in gone]
        return rows, len(rows)

    def answer(how: str, total: int, hits: list[dict]) -> dict:
        return {"query": {"q": q, "court_id": f["court_id"], "date_from": f["date_from"], "date_to": f["date_to"],
                          "offence_group": f["offence_group"], "limit": limit, "offset": offset, "by": how},
                "total": total, **({"total_exact": state["exact"]} if checked else {}), "hits": hits,
                "took_ms": round((time.perf_counter() - t0) * 1000, 3)}

    # (with ``hide``, every match up to the cap is read and asked about: what is counted is what is shown)
    cap = offset + limit if not checked else offset + limit + HIDE_CAP
    if not q:
        if f["court_id"] is None and not f["date_from"] and not f["date_to"] and not f["offence_group"]:
            raise SearchError("give a URN, a case number or offence words to search for, or a court, dates "
                              "or an offence group")
        rows, total = disclosed(*ss.cases_by_filter(archive, filters=f, cap=cap))
        hits = [{"case_id": cid, "urn": urn, "case_number": cn, "court_id": court, "sitting_date": last,
                 "hearings": n, "score": None, "matched_on": "filters", **_hid(r)}
                for r in rows for cid, urn, cn, last, n, court in [r[:6]]]
        return answer("filters", total, hits[offset:offset + limit])
    ref = case_ref(q)
    hits, total, how = [], 0, None
    if ref is not None:
        # a whole URN or case number first: its case(s) alone, counted exactly.  As a prefix it can
        # begin many longer ones (a URN of 5 digits begins those of 6 to 9), of which only a window
        # is checked -- "more than 1 result" for the case asked for.  None the viewer may see (a
        # withheld case counts nowhere): the prefix's matches, as in an archive without it.
        for whole in (True, False):
            rows = ss.cases_by_ref(archive, ref, filters=f, whole=whole,
                                   cap=offset + limit + 1000 if not checked else cap + 1)
            rows, _n = disclosed(rows[:cap] if checked else rows, len(rows))
            if rows:
                break
        for r in rows:
            cid, urn, cn, last, n, court = r[:6]
            key = re.sub(r"\s+", "", cn or "").upper()        # (as listed: "t 2019 0001" is T20190001)
            exact = ref in (urn, key)
            hits.append({"case_id": cid, "urn": urn, "case_number": cn, "court_id": court, "sitting_date": last,
                         **_hid(r),
                         "hearings": n, "score": 1.0 if exact else round(0.9 * len(ref) / max(len(urn or key or ref), 1), 4),
                         "matched_on": "urn" if urn and urn.startswith(ref) else "case_number"})
        hits.sort(key=lambda h: (-h["score"], -(h["sitting_date"] or dt.date.min).toordinal(), h["case_id"]))
        total, how = len(hits), "reference"
        hits = hits[offset:offset + limit]
    if not hits and not total:
        codes, _ws = _offence_codes(q)
        rows, total = disclosed(*ss.cases_by_codes(archive, codes, filters=f, cap=cap))
        hits = [{"case_id": cid, "urn": urn, "case_number": cn, "court_id": court, "sitting_date": last,
                 "hearings": n, "score": 1.0, "matched_on": "offence", **_hid(r)}
                for r in rows for cid, urn, cn, last, n, court in [r[:6]]]
        hits = hits[offset:offset + limit]
        how = "offence"
    return answer(how, total, hits)
