"""Pseudonymised defendant mentions: what a keyed person token still tells the link stage.

When a publication's raw retention ends, `governance.retention.expire` rewrites its defendants:
surname and ``name_as_listed`` become ``~p:<token>``, forenames, middle names, title, date of
birth, age, address, ASN, PNC id and nationality are deleted, the postcode is cut to its outward
code; kept are the case, hearing and court, gender, town and county, and (``party_coarse``) the
age band at the hearing and the police force area.  The token is
``Keyring.token("person", normalise_name(full name) + "|" + ISO date of birth or "")``
(`governance.coarse.person_token`): a keyed hash of the *normalised full name* -- middle names
included, spelling variants folded, words sorted -- and of the date of birth when the list printed
one.  So two tokens are equal exactly when the two names normalise alike and the dates of birth are
equal (or neither mention had one); a typo, a middle name printed on one list only, an initial, or
a date of birth printed on one list only give unrelated tokens.

What the link stage does with them (`prepare`, called by `link.run`; nothing here is stored):

1. **Exact key.**  Mentions carrying one token are one identity: each token's mentions are joined
   by edges of probability 1 (`exact_edges`) -- within a case always, across cases when the token
   is carried by few cases (`TOKEN_MAX_CASES`) and no earlier run found those cases' mentions to
   be different people: a token made without a date of birth is the name alone, and a common
   name is printed on several people's lists.  They still pass the clustering's conflict check:
   the age bands at their hearings give birth-year windows (`band_years`), and two windows more
   than a year apart keep namesakes apart.  Masked mentions ("Youth defendant") are never keyed:
   every masked youth of the archive carries the token of that label; nor are mentions without
   a case (SJP public lists: initial and surname).
2. **Raw twin.**  A mention still in clear whose identity gives the same token -- computed with
   the keyring, under every key it holds and both normalisations of
   `governance.pseudonym.normalise_name_forms`, for its full identity and for its name alone (a
   token made from a list that printed no date of birth) -- is the pseudonymised mention's twin:
   the mention is then scored by the Splink model with the twin's standardised names (and date of
   birth, when the token holds one) and its *own* case, town and outward postcode, so it links as
   its clear twin would have, with the same weights and the same threshold.  The names exist in
   memory for the run only (the keyring's holder can test any name: `governance.rights.find` does
   the same); the mention's stored fields are not touched.
3. **Links kept** (`kept_groups`).  Evidence the token does not hold -- a typo, an initial, a date
   of birth on one list only, the case carrying a public list's name-only entry to the press
   list's -- is gone once the names are; a full run cannot re-make those links, so it keeps them:
   the pseudonymised mentions of one previous person stay together (and with that person's
   earliest mention still in clear), as base groups of `cluster.cluster` -- reviewers'
   cannot-links and the conflicts of 1 still split them.  This is the "links survive" of
   docs/governance.md; an incremental run keeps every existing person anyway.  Not kept: the
   assignments of a run that came after the expiry without reading tokens (`blind_previous_run`:
   an earlier version, one person per listing) -- they are no evidence.
4. **The case's listings** (`reconcile_case_positions`), for pseudonymised mentions that 1-3 leave
   on their own -- an archive never linked while the names were in clear: the k-th defendant of
   the hearings that list a case's full complement is one person, unless something contradicts it.

Without the keyring (no key file, no ``COURTARCHIVE_KEY``) 2 is skipped; 1, 3 and 4 need no key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import polars as pl

from ..governance.coarse import AGE_BANDS, TOKEN_PREFIX, full_name
from ..governance.pseudonym import normalise_name_forms

__all__ = ["TOKEN_PREFIX", "Pseudonymised", "prepare", "token_of", "band_years", "exact_edges", "kept_groups",
           "reconcile_case_positions", "blind_previous_run", "keyring_from_settings", "NAME_COLUMNS",
           "DOB_COLUMNS"]

log = logging.getLogger("courtarchive.link")

#: standardised columns a raw twin lends a pseudonymised mention: its names ...
NAME_COLUMNS = ("fn", "fn1", "fn_c", "sn", "sn_c", "mn", "fn_sdx", "sn_sdx", "fi")
#: ... and, when the token holds a date of birth, that date
DOB_COLUMNS = ("dob", "dob_sw", "by_lo", "by_hi")

_BANDS = {label: (lo, hi) for lo, hi, label in AGE_BANDS}


def token_of(surname: pl.Expr, listed: pl.Expr) -> pl.Expr:
    """The token (hex, without the ``~p:`` prefix) a pseudonymised name field holds, else null."""
    n = len(TOKEN_PREFIX)
    surname, listed = surname.cast(pl.Utf8), listed.cast(pl.Utf8)
    return (pl.when(surname.str.starts_with(TOKEN_PREFIX)).then(surname.str.slice(n))
            .when(listed.str.starts_with(TOKEN_PREFIX)).then(listed.str.slice(n))
            .otherwise(None))


def keyring_from_settings():
    """The configured keyring (`governance.pseudonym.Keyring.from_settings`), or None when there
    is no key: never creates one."""
    from ..config import settings
    from ..governance.pseudonym import Keyring, KeyringError

    try:
        return Keyring.from_settings(settings())
    except (KeyringError, OSError, ValueError) as e:
        log.warning("link: no pseudonym key (%s): pseudonymised mentions are linked by their tokens only", e)
        return None


def band_years(bands: pl.Expr, sitting: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Birth-year window (lo, hi) of an age band at a sitting date: aged ``a..b`` on that day ->
    born ``year - b - 1 .. year - a`` (as `standardise` turns an age into ``by_lo``/``by_hi``)."""
    lo_age = bands.replace_strict({k: v[0] for k, v in _BANDS.items()}, default=None, return_dtype=pl.Int32)
    hi_age = bands.replace_strict({k: min(v[1], 120) for k, v in _BANDS.items()}, default=None, return_dtype=pl.Int32)
    y = sitting.dt.year().cast(pl.Int32)
    return (y - hi_age - 1).alias("band_lo"), (y - lo_age).alias("band_hi")


def _twin_tokens(raw: pl.DataFrame, keyring) -> pl.DataFrame:
    """token -> (unique_id of a raw mention with that identity, whether the token holds the date
    of birth).  Every key the keyring holds, both name normalisations; the full identity and, for
    a mention with a date of birth, the name alone."""
    cols = ["forenames", "middle_names", "surname", "name_as_listed", "date_of_birth"]
    ids = raw.select(pl.col("party_id").alias("unique_id"), *cols)
    distinct = ids.group_by(cols).agg(pl.col("unique_id").min()).sort("unique_id")
    toks: list[str] = []
    reps: list[int] = []
    full: list[bool] = []
    for r in distinct.iter_rows(named=True):
        name = full_name(r)
        if not name:
            continue
        forms = normalise_name_forms(name)
        dob = r["date_of_birth"]
        suffixes = [("|" + dob.isoformat(), True), ("|", False)] if dob is not None else [("|", False)]
        for form in forms:
            if not form:
                continue
            for suffix, has_dob in suffixes:
                for t in keyring.tokens_all("person", form + suffix).values():
                    toks.append(t)
                    reps.append(r["unique_id"])
                    full.append(has_dob)
    t = pl.DataFrame({"ptok": toks, "twin": reps, "twin_dob": full},
                     schema={"ptok": pl.Utf8, "twin": pl.Int64, "twin_dob": pl.Boolean})
    # one twin per token: the earliest mention (a token is one identity, so any would do)
    return t.sort("twin").unique("ptok", keep="first")


@dataclass
class Pseudonymised:
    """What `prepare` found: ``std`` with twins' names (and dates of birth) lent, and the
    ``band_lo``/``band_hi`` windows of the age bands; ``ids`` every pseudonymised (keyed) mention;
    ``stats`` counts."""
    std: pl.DataFrame
    ids: pl.Series
    stats: dict = field(default_factory=dict)


def prepare(archive, std: pl.DataFrame, raw: pl.DataFrame, *, keyring=None) -> Pseudonymised:
    """Lend raw twins' names to pseudonymised mentions (see the module docstring, 2), give them
    their age bands' birth-year windows (``band_lo``, ``band_hi``) and every mention its
    ``gender``.  ``std``: `standardise` of ``raw`` (`defendant_mentions`); ``keyring``: the
    keyring, None or False for none (1, 3 and 4 still work)."""
    tok = std.filter(pl.col("ptok").is_not_null())
    stats: dict = {"pseudonymised_mentions": tok.height}
    std = std.join(raw.select(pl.col("party_id").alias("unique_id"), "gender"), on="unique_id", how="left")
    if tok.height == 0:
        return Pseudonymised(std.with_columns(pl.lit(None, pl.Int32).alias("band_lo"),
                                              pl.lit(None, pl.Int32).alias("band_hi")), tok["unique_id"], stats)
    coarse = pl.from_arrow(archive.to_arrow("party_coarse", columns=["party_id", "age_band"]))
    coarse = coarse.rename({"party_id": "unique_id"}).unique("unique_id")
    std = std.join(coarse, on="unique_id", how="left")
    lo, hi = band_years(pl.col("age_band"), pl.col("sitting_date"))
    std = std.with_columns(pl.when(pl.col("ptok").is_not_null()).then(lo).otherwise(None).alias("band_lo"),
                           pl.when(pl.col("ptok").is_not_null()).then(hi).otherwise(None).alias("band_hi")
                           ).drop("age_band")
    stats["distinct_tokens"] = tok["ptok"].n_unique()
    if not keyring:
        stats["keyring"] = False
        return Pseudonymised(std, tok["unique_id"], stats)
    stats["keyring"] = True
    person_raw = raw.filter(~pl.col("is_masked").fill_null(False)
                            & pl.col("party_id").is_in(std.filter(pl.col("ptok").is_null()
                                                                  & (pl.col("fn").is_not_null()
                                                                     | pl.col("sn").is_not_null()))
                                                       ["unique_id"].implode()))
    twins = _twin_tokens(person_raw, keyring).join(tok.select("ptok").unique(), on="ptok", how="semi")
    if twins.height == 0:
        stats.update(twinned_mentions=0, twinned_with_dob=0)
        return Pseudonymised(std, tok["unique_id"], stats)
    lend = twins.join(std.select(pl.col("unique_id").alias("twin"), *NAME_COLUMNS, *DOB_COLUMNS), on="twin")
    lend = lend.rename({c: f"_t_{c}" for c in (*NAME_COLUMNS, *DOB_COLUMNS)})
    std = std.join(lend, on="ptok", how="left")
    has = pl.col("twin").is_not_null()
    dob = has & pl.col("twin_dob").fill_null(False)
    std = std.with_columns(
        *(pl.when(has).then(pl.col(f"_t_{c}")).otherwise(pl.col(c)).alias(c) for c in NAME_COLUMNS),
        *(pl.when(dob).then(pl.col(f"_t_{c}")).otherwise(pl.col(c)).alias(c) for c in DOB_COLUMNS),
    )
    stats.update(twinned_mentions=int(std.filter(has).height), twinned_with_dob=int(std.filter(dob).height))
    std = std.drop("twin", "twin_dob", *(f"_t_{c}" for c in (*NAME_COLUMNS, *DOB_COLUMNS)))
    return Pseudonymised(std, tok["unique_id"], stats)


#: a token carried by more cases than this joins its mentions within each case only (see `exact_edges`)
TOKEN_MAX_CASES = 3


def exact_edges(std: pl.DataFrame, max_cases: int = TOKEN_MAX_CASES, previous: pl.DataFrame | None = None
                ) -> pl.DataFrame:
    """Pairs (unique_id_l, unique_id_r, match_weight, match_probability = 1) joining the mentions of
    each token (each to the first, a star: one edge per mention).

    Within a case always.  Across cases only when the token is carried by at most ``max_cases``
    cases of the archive: a token made without a date of birth is the name alone, and a name in
    many cases is a common one printed on several people's lists more likely than one person's
    (the clear model weighs a common name low; the token hides how common it is, so the count of
    its cases stands in, as `victims.RARE_NAME_CASES` does for complainants).  And not across cases
    that an earlier run gave to different persons (``previous``: mention_id, person_id): that run
    either saw the names in clear and found two people -- two namesakes listed without a date of
    birth have one token, and the model had the names' frequencies, the dates of birth of the other
    listings and the addresses -- or already had the tokens.  A mention with no case (the SJP public
    list: an initial, a surname, a postcode area) is never keyed: its token is an initial and a
    surname."""
    t = (std.filter(pl.col("ptok").is_not_null() & pl.col("case_id").is_not_null())
         .select("unique_id", "ptok", "case_id"))
    t = t.with_columns(pl.col("unique_id").min().over("ptok", "case_id").alias("first"),
                       pl.col("case_id").n_unique().over("ptok").alias("cases"))
    within = t.filter(pl.col("unique_id") != pl.col("first")).select("first", "unique_id")
    g = t.filter((pl.col("cases") > 1) & (pl.col("cases") <= max_cases))
    if previous is not None and previous.height and g.height:
        pp = (g.join(previous.select(pl.col("mention_id").alias("unique_id"), pl.col("person_id").alias("pp")),
                     on="unique_id", how="left")
              .group_by("ptok").agg(pl.col("pp").drop_nulls().n_unique().alias("npp")))
        g = g.join(pp.filter(pl.col("npp") <= 1).select("ptok"), on="ptok", how="semi")
    across = (g.filter(pl.col("unique_id") == pl.col("first"))
              .with_columns(pl.col("unique_id").min().over("ptok").alias("first"))
              .filter(pl.col("unique_id") != pl.col("first")).select("first", "unique_id"))
    e = pl.concat([within, across])
    return e.select(pl.col("first").alias("unique_id_l"), pl.col("unique_id").alias("unique_id_r"),
                    pl.lit(None, pl.Float64).alias("match_weight"), pl.lit(1.0).alias("match_probability"))


def blind_previous_run(archive) -> bool:
    """Did the latest link run come after an expiry (or a pseudonymising erasure) and not read the
    tokens -- an earlier version, which made every pseudonymised mention a surname of its own?  Its
    assignments of pseudonymised mentions are then no evidence: the links made in clear are gone,
    and its splits (one person per listing) must not keep tokens apart (`exact_edges`)."""
    from ..store import governance as sg
    from ..store import linkage as store

    prev = store.latest_run(archive)
    if prev is None or prev.get("started_at") is None:
        return False
    stats = prev.get("stats") or {}
    if "pseudonymised" in (stats.get("defendants") or {}):
        return False
    for r in sg.runs(archive):
        counts = r.get("counts") or {}
        if (r.get("status") == "done" and r.get("finished_at") is not None and r["finished_at"] <= prev["started_at"]
                and (counts.get("parties_pseudonymised") or counts.get("parties") or 0) > 0):
            return True
    return False


def kept_groups(ids: pl.Series, clear_ids: pl.Series, old: pl.DataFrame) -> pl.DataFrame:
    """Base groups (``m``, ``g``) for a full run: each pseudonymised mention (``ids``) with its
    previous person ``g``, and the earliest mention of ``clear_ids`` (still in clear) of each such
    person.  ``old``: mention_id, person_id of the previous run."""
    o = old.select(pl.col("mention_id").alias("m"), pl.col("person_id").alias("g"))
    tok = o.filter(pl.col("m").is_in(ids.implode()))
    if tok.height == 0:
        return pl.DataFrame(schema={"m": pl.Int64, "g": pl.Int64})
    anchor = (o.filter(pl.col("m").is_in(clear_ids.implode()) & pl.col("g").is_in(tok["g"].unique().implode()))
              .group_by("g").agg(pl.col("m").min()).select("m", "g"))
    return pl.concat([tok, anchor]).cast({"m": pl.Int64, "g": pl.Int64})


def reconcile_case_positions(slots: pl.DataFrame, lab: pl.DataFrame, nameless: pl.Series, profile: pl.DataFrame,
                             cannot=()) -> tuple[pl.DataFrame, int]:
    """Join pseudonymised clusters that no name, token or kept link joins to the defendant of their
    case they stand for in the lists: the one at the same place in the case's listings.

    Without a kept link (the archive was never linked while the names were in clear: lists ingested
    after their retention had ended, or a full run of an earlier version after the expiry) a
    defendant whose lists print him differently -- a date of birth on the press list only, a middle
    name, a typo -- leaves one token per spelling, and the case shows one defendant per spelling: a
    one-defendant case becomes a "network" of two or three.  What the lists still show is the
    case's listings: a hearing lists the case's defendants in the order of the charge sheet, as
    `cluster.resolve_masked` relies on for masked youths.  So, in the hearings that list the case's
    full complement (as many defendants as its largest listing), the k-th entries are one person.
    The alignment is accepted for a group only when nothing contradicts it: no hearing lists two of
    its mentions (a token met at two places of the order shows an order that changed), genders
    agree, the age bands' birth-year windows meet (within a year), no reviewer's cannot-link lies
    inside, and it holds at most one cluster that is not such a *nameless* one (a raw mention, a
    twin): the nameless ones join that cluster, or each other.  Hearings that list part of a case
    (a defendant sentenced alone) are not aligned.

    ``slots``: unique_id, case_id, hearing_id of every current defendant mention (positions are
    counted over all of them, masked and unnamed too); ``lab``: mention_id, label, probability;
    ``nameless``: the ids of pseudonymised mentions without a twin; ``profile``: mention_id,
    gender, by_lo, by_hi.  Returns the relabelled clusters and how many clusters joined."""
    from .cluster import _join_clusters

    lab_nl = lab.select("mention_id", "label").with_columns(pl.col("mention_id").is_in(nameless.implode()).alias("nl"))
    per = lab_nl.group_by("label").agg(pl.col("nl").all().alias("orphan"))
    orphans = per.filter(pl.col("orphan"))["label"]
    if orphans.len() == 0:
        return lab, 0
    s = (slots.filter(pl.col("case_id").is_not_null())
         .with_columns(pl.col("unique_id").rank("ordinal").over("hearing_id").cast(pl.Int64).alias("k"),
                       pl.len().over("hearing_id").cast(pl.Int64).alias("n"))
         .with_columns(pl.col("n").max().over("case_id").alias("nmax"))
         .join(lab_nl.select(pl.col("mention_id").alias("unique_id"), "label"), on="unique_id"))
    cases = s.filter(pl.col("label").is_in(orphans.implode()))["case_id"].unique()
    s = s.filter(pl.col("case_id").is_in(cases.implode()))
    full = s.filter(pl.col("n") == pl.col("nmax"))
    aligned = full.group_by("case_id", "k").agg(pl.col("label").unique().sort())
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for labels in aligned["label"].to_list():
        r = find(labels[0])
        for x in labels[1:]:
            rx = find(x)
            if rx != r:
                parent[max(rx, r)] = min(rx, r)
                r = min(rx, r)
    comp = pl.DataFrame({"label": list(parent), "comp": [find(x) for x in parent]},
                        schema={"label": pl.Int64, "comp": pl.Int64})
    comp = comp.filter(pl.len().over("comp") > 1)
    if comp.height == 0:
        return lab, 0
    # everything the components' clusters hold, in every case: the checks read all of it
    members = lab.select("mention_id", "label").join(comp, on="label")
    hear = members.join(slots.select(pl.col("unique_id").alias("mention_id"), "hearing_id"), on="mention_id")
    bad = set(hear.group_by("comp", "hearing_id").len().filter(pl.col("len") > 1)["comp"].to_list())
    prof = members.join(profile, on="mention_id", how="left")
    chk = prof.group_by("comp").agg(pl.col("gender").drop_nulls().str.to_uppercase().n_unique().alias("g"),
                                    pl.col("by_lo").max().alias("lo"), pl.col("by_hi").min().alias("hi"))
    bad |= set(chk.filter((pl.col("g") > 1) | (pl.col("lo") > pl.col("hi") + 1))["comp"].to_list())
    cn = list(cannot)
    if cn:
        of = dict(zip(members["mention_id"].to_list(), members["comp"].to_list()))
        bad |= {of[a] for a, b in cn if a in of and of[a] == of.get(b)}
    kinds = comp.join(per, on="label").filter(~pl.col("comp").is_in(list(bad)))
    named = kinds.filter(~pl.col("orphan")).group_by("comp").agg(pl.col("label").first().alias("to"),
                                                                  pl.len().alias("n_named"))
    orph = kinds.filter(pl.col("orphan")).join(named, on="comp", how="left").filter(
        pl.col("n_named").fill_null(0) <= 1)
    orph = orph.with_columns(pl.coalesce("to", pl.col("label").min().over("comp")).alias("to")).filter(
        pl.col("label") != pl.col("to"))
    to = dict(zip(orph["label"].to_list(), orph["to"].to_list()))
    return _join_clusters(lab, to) if to else (lab, 0)
