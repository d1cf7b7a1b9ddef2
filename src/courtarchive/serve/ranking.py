"""Ranking: how well a query names a stored name (`score_name`), and how alike two folded words are
(`word_sim`).  Used by `serve.search` for every candidate name of a query - hundreds for a
typo in a common name - so it is written for speed; ``tests/test_search.py`` holds the plain
version of the same rules and checks this one against it, result for result.

The rules (word level): the same word 1.0 (exact); the same nickname-table canonical form 0.96
(variant); an initial against a word with that first letter 0.82 (initial); a query word of 3+
letters that a stored word starts with 0.86 (partial); else the Jaro-Winkler similarity (of the
words, or of their canonical forms), raised to 0.95 - 0.04 x the Damerau-Levenshtein distance when
that is at most 2 (both words 4+ letters), to 0.88 when the Metaphone codes are equal (phonetic),
to 0.8 when the query word is inside the stored one (partial); capped at 0.94 (typo).  Name
level: word pairs under 0.7 never count; the query words pair with stored words greedily, best
pair first (ties: by kind name, then word positions, highest first); the score is the mean of the
pairs taken, less 0.08 per query word left unpaired and 0.025 per stored word left unpaired, less
0.01 when the pairs cross (swapped order); two query words must pair (one for a one-word query).

How it is fast (the results are the plain version's, float for float and string for string):
* per word, what the pair similarity needs (canonical form, metaphone, length, a code of its
  letter counts) is worked out once (``_word_info``);
* the Damerau-Levenshtein distance, the costliest step, counts only at <= 2: it is skipped when
  the letter counts alone need more edits;
* for ranking, a pair of words that provably stays below the 0.7 floor (no boost possible, the
  Jaro-Winkler similarity bounded from the letter counts) is dropped before any jellyfish call
  (``_hits``): 86% of the pairs of the recorded calls;
* ``score_name`` keeps, per query (tuple of words) and stored word, the query words matching it
  at >= 0.7: one dict lookup per stored word instead of one cached call per word pair.  The
  greedy assignment runs on small ints with fast paths for two pairs and for two query words,
  the 'how' string comes from a table, and ``round(x, 4)`` (a decimal conversion, a third of the
  time of a call) has an exact shortcut (``_round4``).

Tie-breaking is the plain version's: candidate pairs sort as ``(sim, kind, i, j)`` descending, with the
kind replaced by a bit (``1 << rank``) in its string order (``KINDS``), which orders the same way.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

import jellyfish

from ..governance.pseudonym import load_name_variants


def canonical(word: str) -> str:
    """The nickname-table canonical form of a folded word (Bob -> robert), else the word."""
    return load_name_variants().get(word, word)


@lru_cache(maxsize=200_000)
def _metaphone(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", jellyfish.metaphone(word).lower()) if word.isalpha() else ""


_jaro_winkler = jellyfish.jaro_winkler_similarity
_damerau = jellyfish.damerau_levenshtein_distance

#: a pair of words below this similarity never counts in a name score
FLOOR = 0.7

#: the match kinds in string order: their rank sorts like the string does
KINDS = ("exact", "initial", "partial", "phonetic", "typo", "variant")
_BIT = {k: 1 << r for r, k in enumerate(KINDS)}
#: flag bits of a name score beside the kind bits; string order again
_EXTRA_WORD, _MIDDLE_MISSING, _SWAPPED = 1 << 6, 1 << 7, 1 << 8
_PARTIAL = _BIT["partial"]


def _how_table() -> tuple[str, ...]:
    """'how' string of every kind/flag bit set: the names of the bits set, in bit order (which is
    the original's sorted main kinds then sorted flags), 'exact' (bit 0) left out; 'exact' when
    nothing else is set."""
    names = KINDS + ("extra_word", "middle_missing", "swapped")
    return tuple("+".join(n for b, n in enumerate(names) if b and m >> b & 1) or "exact"
                 for m in range(1 << len(names)))


_HOW = _how_table()
_NO_MATCH = (0.0, "")

# --------------------------------------------------------------------------- per word
#: a character's count is coded in unary in a field of this many bits; (a & b).bit_count() of
#: two codes is then the size of the words' multiset intersection
_FIELD = 8
#: ASCII character -> its field (lowercase letters first, to keep the codes short)
_SLOT = {ch: k for k, ch in enumerate(
    string.ascii_lowercase + "".join(chr(c) for c in range(128) if chr(c) not in string.ascii_lowercase))}


def _letter_code(word: str) -> int:
    """Unary-coded character counts of an ASCII ``word``; -1 for other words and when a
    character repeats more than _FIELD times."""
    if not word.isascii():
        return -1
    code = 0
    for ch in set(word):
        k = word.count(ch)
        if k > _FIELD:
            return -1
        code |= ((1 << k) - 1) << (_SLOT[ch] * _FIELD)
    return code


@lru_cache(maxsize=200_000)
def _word_info(word: str) -> tuple[str, str, int, int, int, bool]:
    """(canonical, metaphone, length, letter code, letter code of the canonical, plain?).  A plain
    word has a letter code (it is ASCII: jellyfish counts characters, and so does the code) and
    two letters or more: the bounds below hold for it."""
    c = canonical(word)
    code = _letter_code(word)
    return (c, _metaphone(word), len(word), code, code if c == word else _letter_code(c),
            code >= 0 and len(word) >= 2)


def _jw_bound(a: str, b: str, la: int, lb: int, common: int) -> float:
    """An upper bound of the Jaro-Winkler similarity of two ASCII words of two letters or more
    that have at most ``common`` letters in common: Jaro with all of them matched and none
    transposed, plus the Winkler boost of the longest prefix they may share (1 or 4 letters)."""
    jaro = (common / la + common / lb + 1.0) / 3.0
    if a[0] != b[0]:
        return jaro
    return jaro + (0.1 if a[1] != b[1] else 0.4) * (1.0 - jaro)


def _variant_jw_bound(qc: str, sc: str, codeq: int, codes: int) -> float:
    """``_jw_bound`` of the canonical forms of a pair, from their letter codes (1.0 when it does
    not apply)."""
    lq, ls = len(qc), len(sc)
    if lq < 2 or ls < 2 or codeq < 0 or codes < 0:
        return 1.0
    return _jw_bound(qc, sc, lq, ls, (codeq & codes).bit_count())


def _compare(q: str, s: str, qi: tuple, si: tuple) -> tuple[float, str]:
    """``word_sim(q, s)`` from the words' ``_word_info``."""
    if q == s:
        return 1.0, "exact"
    qc, mq, lq, codeq, _, plain_q = qi
    sc, ms, ls, codes, _, plain_s = si
    if qc == sc:
        return 0.96, "variant"
    if lq == 1 or ls == 1:
        return (0.82, "initial") if q[0] == s[0] else (0.0, "")
    if lq >= 3 and s.startswith(q):
        return 0.86, "partial"
    best, kind = _jaro_winkler(q, s), "typo"
    if qc != q or sc != s:
        best = max(best, _jaro_winkler(qc, sc))
    # the distance counts only at <= 2, and turning q into s takes at least max(lq, ls) minus
    # the letters in common edits: skip it when that is more
    if best < 0.9 and min(lq, ls) >= 4 and (
            not (plain_q and plain_s) or max(lq, ls) - (codeq & codes).bit_count() <= 2):
        d = _damerau(q, s)
        if d <= 2:
            best = max(best, 0.95 - 0.04 * d)
    if best < 0.88 and mq and mq == ms:
        best, kind = 0.88, "phonetic"
    if best < 0.88 and lq >= 3 and q in s:
        best, kind = 0.8, "partial"
    return min(best, 0.94), kind


@lru_cache(maxsize=500_000)
def word_sim(q: str, s: str) -> tuple[float, str]:
    """How alike two folded words are: (similarity 0..1, kind: exact | variant | initial |
    partial | typo | phonetic)."""
    return _compare(q, s, _word_info(q), _word_info(s))


# --------------------------------------------------------------------------- per query
#: query words tuple -> {stored word: ((sim, kind bit, query word index), ...) of the query
#: words it matches at >= FLOOR}; cleared whole when it holds more than _MAX_ENTRIES words
_by_query: dict[tuple[str, ...], dict[str, tuple]] = {}
#: (query words list, its table, query tuple) of the last call
_last: tuple = (None, None, None)
_entries = 0
_MAX_ENTRIES = 500_000
#: (the margin of the Jaro-Winkler bounds for rounding)
_LIMIT = FLOOR - 1e-9


@lru_cache(maxsize=4096)
def _query_info(query: tuple[str, ...]) -> tuple[tuple[int, str, tuple], ...]:
    """(index, word, _word_info) of each query word."""
    return tuple((i, q, _word_info(q)) for i, q in enumerate(query))


def _hits(table: dict, query: tuple[str, ...], s: str) -> tuple:
    """Fill in and return ``table[s]``: the (sim, kind bit, i) of the query words matching ``s``."""
    global _entries
    if _entries >= _MAX_ENTRIES:                       # (the caller keeps using ``table``)
        _by_query.clear()
        table.clear()
        _by_query[query] = table
        _entries = 0
    _entries += 1
    si = _word_info(s)
    sc, ms, ls, codes, ccodes, plain_s = si
    out = []
    for i, q, qi in _query_info(query):
        qc, mq, lq, codeq, ccodeq, plain_q = qi
        # Most pairs are far apart: settle those without the costlier steps of _compare when
        # no rule lifts them to the floor.  Past the exact/variant/initial/prefix rules, only
        # the boosts (a Damerau-Levenshtein distance <= 2, equal metaphones, a substring) or a
        # Jaro-Winkler similarity can; those are ruled out by letter counts and bounds.
        # (plain words are not initials; qc != sc rules out exact and variant)
        if plain_q and plain_s and qc != sc and not (mq and mq == ms) and not (lq >= 3 and q in s):
            common = (codeq & codes).bit_count()
            if (lq < 4 or ls < 4 or (lq if lq > ls else ls) - common > 2) and (
                    (qc == q and sc == s) or _variant_jw_bound(qc, sc, ccodeq, ccodes) < _LIMIT):
                # (_jw_bound, inline)
                jw = (common / lq + common / ls + 1.0) / 3.0
                if q[0] == s[0]:
                    jw += (0.1 if q[1] != s[1] else 0.4) * (1.0 - jw)
                if jw < _LIMIT:
                    continue
        sim, kind = _compare(q, s, qi, si)
        if sim >= FLOOR:
            out.append((sim, _BIT[kind], i))
    table[s] = out = tuple(out)
    return out


def clear_caches() -> None:
    """Forget every cached similarity (for tests and benchmarks)."""
    global _entries, _last
    _metaphone.cache_clear()
    _by_query.clear()
    _entries = 0
    _last = (None, None, None)
    _query_info.cache_clear()
    word_sim.cache_clear()
    _word_info.cache_clear()


def score_name(query_words: list[str], stored_words: list[str]) -> tuple[float, str]:
    """How well a query names a stored name: (score 0..1, what matched: exact | variant | typo |
    phonetic | partial | initial, joined with + and +swapped / +middle_missing / +extra_word).
    Word order is free; each query word pairs with its best stored word (greedy, best first)."""
    global _last
    nq = len(query_words)
    ns = len(stored_words)
    if not nq or not ns:
        return _NO_MATCH
    last_words, table, query = _last
    if last_words != query_words:                      # (a search scores many names in a row)
        query = tuple(query_words)
        table = _by_query.get(query)
        if table is None:
            table = _by_query[query] = {}
        _last = (list(query_words), table, query)
    # the stored words matching some query word: (j, hits)
    found = []
    j = 0
    for s in stored_words:
        hits = table.get(s)
        if hits is None:
            hits = _hits(table, query, s)
        if hits:
            found.append((j, hits))
        j += 1

    if nq == 1:                                         # one query word: its best pair
        if not found:
            return _NO_MATCH
        sim, bit, i, j = max([h + (j,) for j, hits in found for h in hits])
        score = sim - 0.025 * (ns - 1)                  # (no query word left over)
        return _round4(score), _HOW[bit | _PARTIAL if ns > 1 else bit]

    if len(found) < 2:                                  # two query words need two stored words
        return _NO_MATCH
    (j0, h0), (j1, h1) = found[0], found[1]
    if len(found) == 2 and len(h0) == 1 and len(h1) == 1:
        # two pairs: both are taken unless they share the query word
        (s0, b0, i0), = h0
        (s1, b1, i1), = h1
        if i0 == i1:
            return _NO_MATCH
    else:
        pairs = []
        for j, hits in found:
            for sim, bit, i in hits:
                pairs.append((sim, bit, i, j))
        pairs.sort(reverse=True)                        # (greedy, best pair first)
        if nq > 2:
            return _greedy(pairs, nq, ns)
        # two query words: the greedy takes the best pair and the best one sharing no word
        # with it, then no more
        s0, b0, i0, j0 = pairs[0]
        for s1, b1, i1, j1 in pairs:
            if i1 != i0 and j1 != j0:
                break
        else:
            return _NO_MATCH
    # two pairs taken.  (A sum of two floats is the same in either order.)
    score = (s0 + s1) / 2 - (0.08 * (nq - 2) + 0.025 * (ns - 2))
    mask = b0 | b1
    if (i0 < i1) != (j0 < j1):
        score -= 0.01
        mask |= _SWAPPED
    if ns > 2:
        mask |= _MIDDLE_MISSING
    if nq > 2:
        mask |= _EXTRA_WORD
    return _round4(score), _HOW[mask]


def _greedy(pairs: list[tuple], nq: int, ns: int) -> tuple[float, str]:
    """The end of score_name for any number of query words: take the ``pairs`` (sim, kind bit,
    i, j), sorted best first, that share no word with one taken before."""
    used_q = used_s = mask = 0
    sims = []
    taken = []                                          # (i, j)
    for sim, bit, i, j in pairs:
        bq = 1 << i
        bs = 1 << j
        if used_q & bq or used_s & bs:
            continue
        used_q |= bq
        used_s |= bs
        mask |= bit
        sims.append(sim)
        taken.append((i, j))
    n = len(sims)
    if n < 2:
        return _NO_MATCH
    extra_q = nq - n
    extra_s = ns - n
    # (summed in the order taken, as the original)
    score = sum(sims) / n - (0.08 * extra_q + 0.025 * extra_s)
    taken.sort()
    order = [j for i, j in taken]
    if order != sorted(order):
        score -= 0.01
        mask |= _SWAPPED
    if extra_s:
        mask |= _MIDDLE_MISSING
    if extra_q:
        mask |= _EXTRA_WORD
    return _round4(score), _HOW[mask]


def _round4(x: float) -> float:
    """``round(max(x, 0.0), 4)``, the same float, in a third of the time for a usual score.

    round() finds the 4-decimal number nearest to x (by exact decimal arithmetic) and returns the
    float nearest to it.  For 0 < x < 100 that number is n / 10**4 with n the integer nearest
    to y = x * 10**4, and the float nearest to it is n / 10000.0 (IEEE division rounds
    correctly; n and 10000 are exact).  y is off the exact product by at most half an ulp
    (< 1e-10), so its integer part and fraction give n unless the fraction is within 1e-7 of
    one half; those rare near-ties, and all other x, go to round() itself."""
    if 0.0 < x < 100.0:
        y = x * 10000.0
        n = int(y)
        f = y - n                                       # (exact)
        if f < 0.4999999:
            return n / 10000.0
        if f > 0.5000001:
            return (n + 1) / 10000.0
    return round(0.0 if x < 0.0 else x, 4)              # (max(x, 0.0) keeps x when equal)
