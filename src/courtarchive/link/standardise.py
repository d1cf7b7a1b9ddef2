"""Standardised defendant mentions: the columns the Splink model compares and blocks on.

Input: the Arrow table of `store.linkage.defendant_mentions` (one row per current DEFENDANT party
mention, with its hearing's sitting date).  Output (Arrow, one row per mention):

=============== =====================================================================================
unique_id       the party id
fn              first forename, normalised (casefolded, accents and punctuation stripped, titles dropped)
fn1             the first forename as written, its parts joined ("Tucker-Gilbert" -> "tuckergilbert"):
                a double-barrelled surname listed in the forename field compares with ``sn``
fn_c            ``fn`` mapped through the shared name-variant table (Bob -> robert, Mohd -> mohammed)
sn              surname, normalised, words joined ("O'Neill" = "oneill", "Smith-Jones" = "smithjones")
sn_c            ``sn`` mapped through the variant table word by word (surnames that are variants coincide)
mn              middle names (and any further forenames), normalised, space-separated; null if none
fn_sdx, sn_sdx  Soundex codes of ``fn_c`` and ``sn`` (blocking only)
dob             date of birth as ``YYYY-MM-DD``; ``dob_sw`` the same with day and month swapped
                (null when the swap is not a valid, different date)
by_lo, by_hi    birth-year range: the DOB year when known, else from age at the hearing
                (``year(sitting_date) - age - 1 .. year(sitting_date) - age``)
pc, pc_out      postcode without spaces (upper case) and its outward code
pc_area         postcode area (the leading letters: "SS14 2GG" -> "SS"); SJP public lists give only it
fi              first letter of ``fn`` (blocking: forenames listed as an initial)
town            town, normalised
asn, pnc        Arrest Summons Number and PNC id, upper-case alphanumerics only
org             organisation name normalised (organisation defendants are linked by it, not by Splink)
masked          the list masks the party's name (a youth: "Youth defendant"); no name columns then
ptok            the keyed person token of a mention whose raw identity expired (surname or listed name
                ``~p:<token>``; never for a masked one): no name columns then, ``pc_out`` is the
                outward code the expiry kept (see `link.tokens`)
case_id, ...    carried through for networks and incremental runs
=============== =====================================================================================

Normalisation works on the distinct values of each column (a few thousand names however many
mentions), so a million mentions standardise in seconds.  Names given only as one string
(``name_as_listed``: "SMITH, John Paul" or "John Paul SMITH") are split into forename / middle /
surname first.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import polars as pl
import pyarrow as pa

from ..governance.pseudonym import hyphen_joined, load_name_variants
from .tokens import token_of

__all__ = ["standardise", "soundex", "norm_words", "split_listed_name", "COLUMNS"]

COLUMNS = ("unique_id", "fn", "fn1", "fn_c", "sn", "sn_c", "mn", "fn_sdx", "sn_sdx", "dob", "dob_sw",
           "by_lo", "by_hi", "pc", "pc_out", "pc_area", "fi", "town", "asn", "pnc", "ptok")

_SPECIAL = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
                          "ß": "ss", "ı": "i"})
_APOS = re.compile(r"['\u2019\u2018\u02bc`\u00b4]")
_NONWORD = re.compile(r"[^0-9a-z]+")
_TITLES = frozenset({"mr", "mrs", "miss", "ms", "mx", "mstr", "master", "dr", "sir", "dame", "lady",
                     "lord", "rev", "revd", "prof"})


_WORD = re.compile(r"[0-9a-z]+")


@lru_cache(maxsize=None)
def norm_words(text: str | None) -> tuple[str, ...]:
    """Casefold, strip accents, drop apostrophes, other punctuation -> space, titles dropped.

    A title is a word of its own ("Mr John", "Lord SMITH", "Smith, Mr. J"), never part of a
    hyphenated name: "Lord-Knowles" is the surname *lordknowles* (dropping the "lord" made it
    *knowles*, so "Lordd-Knowles" on the next list, *lorddknowles*, was eight edits away)."""
    if not text:
        return ()
    t = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    t = _APOS.sub("", "".join(c for c in t if not unicodedata.combining(c)))
    found = list(_WORD.finditer(t))
    words = [m.group() for m in found]
    hyphened = set()
    for i in range(len(found) - 1):
        if hyphen_joined(t[found[i].end():found[i + 1].start()]):
            hyphened.update((i, i + 1))
    titles = {i for i, w in enumerate(words) if w in _TITLES and i not in hyphened}
    if len(titles) == len(words):          # a lone "Lord": a surname, not a title
        return tuple(words)
    return tuple(w for i, w in enumerate(words) if i not in titles)


def split_listed_name(listed: str | None) -> tuple[str | None, str | None]:
    """("forenames", "surname") of a name given as one string."""
    if not listed or not listed.strip():
        return None, None
    s = listed.strip()
    if "," in s:
        sur, _, fore = s.partition(",")
        return (fore.strip() or None), (sur.strip() or None)
    parts = s.split()
    if len(parts) == 1:
        return None, parts[0]
    # register style "John Paul SMITH": the trailing upper-case words are the surname
    k = len(parts)
    while k > 1 and parts[k - 1].isupper() and len(parts[k - 1]) > 1:
        k -= 1
    if k == len(parts) or k == 0:
        k = len(parts) - 1
    return " ".join(parts[:k]), " ".join(parts[k:])


_SDX = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
        "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


@lru_cache(maxsize=None)
def soundex(word: str | None) -> str | None:
    """American Soundex (letter + 3 digits) of a normalised word; None for an empty one."""
    w = "".join(c for c in (word or "") if "a" <= c <= "z")
    if not w:
        return None
    out, last = w[0].upper(), _SDX.get(w[0], "")
    for c in w[1:]:
        d = _SDX.get(c, "")
        if d and d != last:
            out += d
            if len(out) == 4:
                break
        if c not in "hw":
            last = d
    return out.ljust(4, "0")


def _map_unique(s: pl.Series, fn, dtype=pl.Utf8) -> pl.Series:
    uniq = s.unique().drop_nulls().to_list()
    mapping = {u: fn(u) for u in uniq}
    return s.replace_strict(mapping, default=None, return_dtype=dtype)


def _names(df: pl.DataFrame) -> pl.DataFrame:
    """fn, mn, sn (normalised) from forenames / middle_names / surname / name_as_listed.  A masked
    party (a youth listed as "Youth defendant") has no name: its listed text is a label, not a name;
    nor has an erased one (its listed name reads `rights.ERASED`)."""
    from ..governance.rights import ERASED

    if (df["name_as_listed"] == ERASED).any():
        df = df.with_columns(pl.when(pl.col("name_as_listed") == ERASED).then(None).otherwise(pl.col("name_as_listed"))
                             .alias("name_as_listed"))
    if "is_masked" in df.columns and df["is_masked"].fill_null(False).any():
        keep = ~df["is_masked"].fill_null(False)
        df = df.with_columns(*(pl.when(keep).then(pl.col(c)).otherwise(None).alias(c)
                               for c in ("forenames", "middle_names", "surname", "name_as_listed")))
    need_split = df["surname"].is_null() & df["name_as_listed"].is_not_null() & df["organisation_name"].is_null()
    fore, sur = df["forenames"], df["surname"]
    if need_split.any():
        sp = _map_unique(df["name_as_listed"], lambda s: list(split_listed_name(s)), pl.List(pl.Utf8))
        fore = pl.select(pl.when(need_split).then(sp.list.get(0, null_on_oob=True)).otherwise(fore)).to_series()
        sur = pl.select(pl.when(need_split).then(sp.list.get(1, null_on_oob=True)).otherwise(sur)).to_series()
    fw = _map_unique(fore, lambda s: list(norm_words(s)), pl.List(pl.Utf8))
    mw = _map_unique(df["middle_names"], lambda s: list(norm_words(s)), pl.List(pl.Utf8))
    sw = _map_unique(sur, lambda s: "".join(norm_words(s)) or None)
    fn = fw.list.get(0, null_on_oob=True)
    rest = fw.list.slice(1)
    mid = pl.select(pl.concat_list(rest.fill_null([]), mw.fill_null([]))).to_series()
    mn = mid.list.join(" ")
    mn = pl.select(pl.when(mn == "").then(None).otherwise(mn)).to_series()
    f1 = _map_unique(fore, lambda s: "".join(norm_words(s.split()[0])) or None if s.split() else None)
    return pl.DataFrame({"fn": fn, "fn1": f1, "mn": mn, "sn": sw})


#: mentions standardised at a time: every step is per mention, and the string work of a whole 10M
#: archive at once held ~9 GB of intermediates
CHUNK = 1_000_000


def standardise(mentions: pa.Table) -> pa.Table:
    """The standardised mention table (see the module docstring) from `defendant_mentions`."""
    if mentions.num_rows > CHUNK:
        return pa.concat_tables([_standardise(mentions.slice(i, CHUNK)) for i in range(0, mentions.num_rows, CHUNK)],
                                promote_options="default")
    return _standardise(mentions)


def _standardise(mentions: pa.Table) -> pa.Table:
    df = pl.from_arrow(mentions)
    if isinstance(df, pl.Series):
        df = df.to_frame()
    variants = load_name_variants()
    # a pseudonymised mention (raw retention expired): its names are a keyed token, not a name
    masked = (df["is_masked"].fill_null(False) if "is_masked" in df.columns
              else pl.Series([False] * df.height, dtype=pl.Boolean))
    ptok = df.select(pl.when(~masked).then(token_of(pl.col("surname"), pl.col("name_as_listed")))
                     .otherwise(None)).to_series()
    tokened = ptok.is_not_null()
    if tokened.any():
        df = df.with_columns(*(pl.when(tokened).then(None).otherwise(pl.col(c)).alias(c)
                               for c in ("forenames", "middle_names", "surname", "name_as_listed")))
    names = _names(df)
    canon = lambda w: variants.get(w, w)  # noqa: E731
    fn_c = _map_unique(names["fn"], canon)
    sn_c = _map_unique(names["sn"], canon)
    out = df.select(
        pl.col("party_id").alias("unique_id"),
        "case_id", "hearing_id", "court_id", "sitting_date",
    ).with_columns(
        names["fn"].alias("fn"), names["fn1"].alias("fn1"), fn_c.alias("fn_c"), names["sn"].alias("sn"), sn_c.alias("sn_c"),
        names["mn"].alias("mn"),
        _map_unique(fn_c, soundex).alias("fn_sdx"), _map_unique(names["sn"], soundex).alias("sn_sdx"),
    )
    dob = df["date_of_birth"]
    y, m, d = dob.dt.year(), dob.dt.month(), dob.dt.day()
    sy = df["sitting_date"].dt.year()
    age = df["age"]
    out = out.with_columns(
        dob.dt.strftime("%Y-%m-%d").alias("dob"),
        pl.when((d <= 12) & (d != m)).then(
            pl.format("{}-{}-{}", y.cast(pl.Utf8), d.cast(pl.Utf8).str.zfill(2), m.cast(pl.Utf8).str.zfill(2)))
        .otherwise(None).alias("dob_sw"),
        pl.when(dob.is_not_null()).then(y).otherwise(sy - age - 1).cast(pl.Int32).alias("by_lo"),
        pl.when(dob.is_not_null()).then(y).otherwise(sy - age).cast(pl.Int32).alias("by_hi"),
    )
    pc_raw = df["postcode"].str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    pc = pl.select(pl.when(pc_raw.str.len_chars() >= 5).then(pc_raw).otherwise(None)).to_series()
    area = pc_raw.str.extract(r"^([A-Z]{1,2})(?:[0-9]|$)", 1)
    pc_out = pc.str.slice(0, pc.str.len_chars() - 3)
    if tokened.any():       # the expiry kept the outward code alone
        pc_out = pl.select(pl.when(tokened & pc.is_null() & (pc_raw.str.len_chars() >= 2)).then(pc_raw)
                           .otherwise(pc_out)).to_series()
    out = out.with_columns(
        pc.alias("pc"),
        pc_out.alias("pc_out"),
        area.alias("pc_area"),
        names["fn"].str.slice(0, 1).alias("fi"),
        _map_unique(df["town"], lambda s: " ".join(norm_words(s)) or None).alias("town"),
        _ids(df["asn"]).alias("asn"), _ids(df["pnc_id"]).alias("pnc"),
        _map_unique(df["organisation_name"], lambda s: " ".join(norm_words(s)) or None).alias("org"),
        masked.alias("masked"),
        ptok.alias("ptok"),
    )
    return out.to_arrow()


def _ids(s: pl.Series) -> pl.Series:
    v = s.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.select(pl.when(v.str.len_chars() >= 4).then(v).otherwise(None)).to_series()
