"""Keyed pseudonyms and keyed Bloom-filter encodings of person names.

Everything that must identify a person *without* naming them goes through this module:
complainants at intake (``ingest.gate``) and defendants when their raw retention expires.
The same key and the same normalisation are used for both, so links survive.

The key
    32 random bytes, kept outside the database: the environment variable ``COURTARCHIVE_KEY``
    (64 hex characters) wins, else the key file (``COURTARCHIVE_KEY_FILE``, default
    ``<home>/keys/pseudonym.key``), written once by ``courtarchive init`` with mode 0600 in a
    0700 folder.  ``key_id`` (8 hex characters of a domain-separated SHA-256 of the key) is stored
    beside every token, so that the key can rotate: a `Keyring` holds the current key plus any
    number of retired keys (passed in, or the files in ``<key folder>/retired/``) and can compute
    a token under any of them.  An HMAC cannot be re-keyed without the cleartext, so after a
    rotation old tokens are matched by computing the identity under the old key as well
    (`Keyring.tokens_all`) until the records carrying them expire.

Tokens
    ``HMAC-SHA256(key, kind + "\\x1f" + identity)``, hex, truncated to 32 characters (128 bits).
    ``kind`` separates domains ("complainant", "person"...): the same name gives unrelated tokens
    in different domains.  Whoever holds the database but not the key cannot test a guessed name
    (no dictionary attack); whoever holds the key can, so the key is the secret to guard.
    The caller decides what the identity is; for names it is `normalise_name` of the name.

Name normalisation (`normalise_name`)
    casefold -> strip accents (NFKD, combining marks dropped, a few letters such as ``ø``/``ł``/
    ``æ`` mapped by hand) -> apostrophes removed (``O'NEILL`` = ``ONEILL``), other punctuation
    and hyphens become spaces -> leading titles dropped (Mr, Mrs, Dr ...) in each comma-separated
    part, unless hyphenated to the next word (``LORD-KNOWLES, Jane`` = ``Jane Lord-Knowles``) ->
    name particles joined to the next word (``al hassan`` = ``alhassan``, ``mc donald`` =
    ``mcdonald``, ``de la cruz`` = ``delacruz``) -> every word mapped through the variant table ->
    words sorted, so ``SMITH, Jane`` = ``Jane Smith``.  Limits: middle names are kept, so ``Jane
    Mary SMITH`` and ``Jane SMITH`` get different tokens (the Bloom encoding still scores them
    close); sorting also makes ``John JAMES`` = ``James JOHN``; double-barrelled and particle
    surnames written with and without the hyphen/particle match only as far as the rules above go.

The name-variant table (``data/name_variants.csv``, columns ``canonical,variant``)
    Shared with defendant linkage and the synthetic generator; read it with
    `load_name_variants`.  One row per variant spelling; every word of a name equal to a
    ``variant`` is replaced by its ``canonical`` form.  What belongs in it, and what does not:

    * spelling variants of one name (Stephen/Steven, Catherine/Katherine/Kathryn, Rhys/Reece);
    * transliterations of one name (Mohammed/Muhammad/Mohamed/Mohd, Yusuf/Yousef, Hussain/Hussein);
    * diminutives that belong to exactly one full name in UK usage (Bob/Robbie -> Robert,
      Bill -> William, Jake -> Jacob);
    * NOT diminutives shared by several full names (Alex, Sam, Chris, Jo, Pat, Terry, Charlie,
      Freddie, Max, Ed, Ted, Harry, Jamie, Nicky, Toni, Kim ...);
    * NOT names that share an origin but are given as names in their own right (Jonathan/John,
      Jack/John, Liam/William, Sophie/Sophia, Anna/Ann, Isabella/Isabel, Kate/Catherine);
    * NOT cross-language equivalents (Michael/Mikhail, Jacob/Jakub, David/Dafydd): a person is
      usually listed under one of them consistently, and merging them would join strangers;
    * NOT diminutives that are also common surnames (Gill -> Gillian, Jan -> Janet).
    The canonical form is the spelling most often registered in England and Wales; it has no
    other meaning (tokens are keyed hashes).  ``Jon`` is mapped to ``John`` as a spelling variant,
    although it is also short for Jonathan, which is kept apart.
    Invariants (checked on load): a variant appears once; no canonical form is also a variant
    (no chains); all entries are lowercase ASCII letters.  Mapping applies to every word, surnames
    included; because it is applied to both sides of any comparison that is harmless, except that
    two surnames which are themselves variant spellings (Neal/Neil) then coincide.

Bloom-filter encoding for privacy-preserving record linkage (`Keyring.bloom`, `dice`)
    After Schnell, Bachteler & Reiher (2009), "Privacy-preserving record linkage using Bloom
    filters", BMC Medical Informatics and Decision Making 9:41 (the cryptographic long-term key,
    CLK, idea): the normalised name is split into words, each word padded with ``_`` (q-1 on each
    side) and cut into q-grams (default bigrams); each distinct q-gram sets ``k`` bits of a
    ``bits``-bit filter; two filters are compared by the Dice coefficient
    ``2|A&B| / (|A|+|B|)``, which tracks the q-gram Dice of the two names, so spelling variants
    and typos (``Jane Smith`` / ``Jane Smyth`` ~ 0.83) score high and different names low
    (~0.15-0.4).  Defaults: ``bits=1024``, ``k=20``, ``q=2``; a two-word name sets ~190-260 bits.

    Known weakness: filters built with public, unkeyed hash functions can be re-identified by a
    dictionary (build the filter of every likely name) and, even keyed, by *frequency attacks*:
    over a large set of filters, frequent bit patterns correspond to frequent q-grams and names
    (Kuzu et al. 2011; Niedermeyer et al. 2014; Christen et al. 2017).  Mitigations used here:

    * keyed hashing: bit positions come from HMAC-SHA512 under a subkey derived from the
      pseudonym key, so without the key no filter can be built for a guessed name (no dictionary
      attack) and positions cannot be tied to q-grams by recomputation;
    * "random hashing" rather than double hashing: the k positions of a q-gram are independent
      16-bit words of the HMAC output, not ``h1 + i*h2``, which removes the linear structure the
      Niedermeyer et al. attack on CLKs exploits;
    * the filters are stored with sensitivity class ``pseudonym`` and never leave the store
      (no output, no export): the frequency attack needs a large collection of filters;
    * NOT done: balancing (a fixed number of set bits).  The number of set bits therefore leaks
      roughly how many distinct q-grams, i.e. how long, the name is.  Balanced filters (filter ||
      its complement, permuted) were rejected because they turn Dice into a simple-matching score
      that compresses every comparison into ~0.7..1.0 (two unrelated names score ~0.7), which
      would break the thresholds linkage relies on.
      Salting per record (e.g. with year of birth) is not possible for complainants, who have
      no stable second attribute in court lists.
    Residual risk: an attacker with the key can do anything (it is the secret); an attacker with
    many filters but no key can still mount pattern-mining frequency attacks in principle.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
import secrets
import stat
import unicodedata
from functools import lru_cache
from types import MappingProxyType
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

KEY_BYTES = 32
TOKEN_HEX = 32
_KEY_ID_DOMAIN = b"courtarchive-key-id"
_BLOOM_DOMAIN = b"courtarchive-bloom-v1"
_SEP = "\x1f"


class KeyringError(RuntimeError):
    """The pseudonym key is missing, malformed or unsafely stored. Never carries key material."""


# ---------------------------------------------------------------------------- name normalisation

#: letters NFKD does not decompose into ASCII
_SPECIAL = str.maketrans({
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
    "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n",
})
#: apostrophes (joined: O'Neill = ONeill) -- every other non-alphanumeric becomes a space
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc`\u00b4]")
_WORD = re.compile(r"[0-9a-z]+")


def hyphen_joined(gap: str) -> bool:
    """Do these characters between two words hyphenate them ("-", not " - ")?  (A title
    hyphenated to the next word is part of a name: here and in `link.standardise.norm_words`.)"""
    return "-" in gap and not any(c.isspace() for c in gap)


_TITLES = frozenset({
    "mr", "mrs", "miss", "ms", "mx", "mstr", "master", "mister", "dr", "doctor", "prof", "professor",
    "sir", "dame", "lady", "lord", "rev", "revd", "reverend", "fr", "father", "sr", "sister",
    "hon", "rt", "sgt", "pc", "dc",
})
#: particles joined to the following word: "al hassan" = "al-hassan" = "alhassan"
_PARTICLES = frozenset({
    "al", "el", "ul", "ud", "bin", "ibn", "o", "mc", "mac", "de", "da", "di",
    "del", "della", "du", "la", "le", "van", "von", "der", "den", "ter", "st", "dos", "das",
})


def _fold(text: str) -> str:
    """casefold + accents stripped (NFKD, combining marks dropped)."""
    if text.isascii():      # the same result: ASCII casefolds to lower case, NFKD leaves it as is
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def load_name_variants(path: str | os.PathLike | None = None) -> Mapping[str, str]:
    """The variant table as a read-only ``{variant: canonical}``; validates its invariants.
    Read once per process (cached)."""
    if path is None:
        text = resources.files("courtarchive.data").joinpath("name_variants.csv").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    table: dict[str, str] = {}
    canonicals: set[str] = set()
    for n, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        c, v = row["canonical"].strip(), row["variant"].strip()
        if not (c.isascii() and c.isalpha() and c.islower() and v.isascii() and v.isalpha() and v.islower()):
            raise ValueError(f"name_variants.csv line {n}: entries must be lowercase ASCII letters")
        if v in table:
            raise ValueError(f"name_variants.csv line {n}: variant {v!r} listed twice")
        table[v] = c
        canonicals.add(c)
    chained = canonicals & table.keys()
    if chained:
        raise ValueError(f"name_variants.csv: canonical forms also listed as variants: {sorted(chained)}")
    return MappingProxyType(table)


@lru_cache(maxsize=1)
def name_spellings() -> dict[str, frozenset[str]]:
    """The name-variant table by name: canonical form -> all its spellings, itself included."""
    group: dict[str, set[str]] = {}
    for v, canon in load_name_variants().items():
        group.setdefault(canon, {canon}).add(v)
    return {c: frozenset(g) for c, g in group.items()}


def name_words(name: str, *, variants: bool = True, _hyphened_titles: bool = False) -> list[str]:
    """The normalised words of a name, unsorted (see the module docstring for the steps);
    ``variants=False``: as printed, nicknames and spellings not folded ("Kathryn" stays kathryn)."""
    variants = load_name_variants() if variants else {}
    out: list[str] = []
    for part in _fold(name).split(","):
        part = _APOSTROPHES.sub("", part)
        words = _WORD.findall(part)     # (the runs of [0-9a-z])
        if len(words) > 1 and words[0] in _TITLES:
            # a leading title is a word of its own, never the first half of a hyphenated name:
            # "LORD-KNOWLES, Jane" = "Jane Lord-Knowles" (it was "Jane Knowles")
            found = list(_WORD.finditer(part))
            i = 0
            while (len(words) - i > 1 and words[i] in _TITLES
                   and (_hyphened_titles or not hyphen_joined(part[found[i].end():found[i + 1].start()]))):
                i += 1
            words = words[i:]
        i = 0
        while i < len(words):
            w = words[i]
            while words[i] in _PARTICLES and i + 1 < len(words):   # "de la cruz" -> "delacruz"
                i += 1
                w += words[i]
            out.append(variants.get(w, w))
            i += 1
    return out


def normalise_name(name: str) -> str:
    """Normalised identity of a person name: words canonicalised and sorted, space-separated.

    >>> normalise_name("SMITH, Mrs Jane") == normalise_name("jane smith")
    True
    >>> normalise_name("Muhammad AL-HASSAN") == normalise_name("Mohammed Al Hassan")
    True
    """
    return " ".join(sorted(name_words(name)))


def normalise_name_forms(name: str) -> tuple[str, ...]:
    """Every normalised identity ``name`` may have been tokenised under: `normalise_name` first,
    then the earlier normalisation's when it differs (until 2026-11-27 a leading title was dropped
    from a hyphenated name too: "Lord-Knowles" was *knowles*).  Tokens are kept, never recomputed
    (no cleartext is left), so a look-up by name -- a data subject's request -- asks for both."""
    now = normalise_name(name)
    before = " ".join(sorted(name_words(name, _hyphened_titles=True)))
    return (now,) if before == now or not before else (now, before)


def normalise_initials(initials: str) -> str:
    """Initials as uppercase letters in order: ``J.S.`` = ``j s`` = ``JS`` (order is kept)."""
    return "".join(c for c in _fold(initials).upper() if c.isalnum())


# ---------------------------------------------------------------------------- Bloom helpers

def qgrams(normalised: str, q: int = 2) -> frozenset[str]:
    """Distinct q-grams of each word, each word padded with ``_`` (q-1 on each side)."""
    pad = "_" * (q - 1)
    grams: set[str] = set()
    for word in normalised.split():
        w = pad + word + pad
        grams.update(w[i:i + q] for i in range(len(w) - q + 1))
    return frozenset(grams)


def dice(a: bytes, b: bytes) -> float:
    """Dice coefficient of two Bloom filters of equal length (0.0 when both are empty)."""
    if len(a) != len(b):
        raise ValueError(f"Bloom filters of different lengths ({len(a)} and {len(b)} bytes)")
    ia, ib = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    total = ia.bit_count() + ib.bit_count()
    return 2 * (ia & ib).bit_count() / total if total else 0.0


# ---------------------------------------------------------------------------- the keyring

def key_id_of(key: bytes) -> str:
    """Public identifier of a key: 8 hex chars of sha256(domain + key). Safe to store and log."""
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:8]


def _check_key(key: bytes, where: str) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        n = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise KeyringError(f"{where}: the pseudonym key must be {KEY_BYTES} bytes, got {n}")
    return bytes(key)


def _parse_key_text(data: bytes, where: str) -> bytes:
    """A key file holds 64 hex characters (optionally with whitespace) or 32 raw bytes."""
    stripped = data.strip()
    if len(stripped) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(stripped.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    if len(data) == KEY_BYTES:
        return data
    raise KeyringError(f"{where}: not a pseudonym key (expected {2 * KEY_BYTES} hex characters)")


def read_key_file(path: str | os.PathLike) -> bytes:
    """Read a key file, refusing one that group or others can read or write."""
    p = Path(path)
    st = p.stat()
    if os.name == "posix" and st.st_mode & 0o077:
        raise KeyringError(f"key file {p} is accessible to group/others (mode {stat.S_IMODE(st.st_mode):04o}); "
                           f"run: chmod 600 {p}")
    return _parse_key_text(p.read_bytes(), f"key file {p}")


class Keyring:
    """The current pseudonym key plus retired keys (for tokens made before a rotation).

    Picklable (worker processes receive it), and its repr never shows key material.
    """

    __slots__ = ("key", "old_keys", "key_id", "_by_id", "_bloom_key", "_masks")

    def __init__(self, key: bytes, old_keys: Iterable[bytes] = ()) -> None:
        self.key: bytes = _check_key(key, "current key")
        self.old_keys: tuple[bytes, ...] = tuple(_check_key(k, "retired key") for k in old_keys if k != key)
        self.key_id: str = key_id_of(self.key)
        self._by_id: dict[str, bytes] = {key_id_of(k): k for k in self.old_keys}
        self._by_id[self.key_id] = self.key
        self._bloom_key = hmac.new(self.key, _BLOOM_DOMAIN, hashlib.sha256).digest()
        self._masks: dict[tuple[str, int, int], int] = {}     # (q-gram, bits, k) -> its bits

    def __repr__(self) -> str:
        return f"Keyring(key_id={self.key_id!r}, retired={sorted(set(self._by_id) - {self.key_id})})"

    def __getstate__(self):
        return (self.key, self.old_keys)

    def __setstate__(self, state) -> None:
        self.__init__(*state)

    # -- loading and creating ----------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings, create: bool = False, old_keys: Iterable[bytes] = ()) -> "Keyring":
        """The keyring configured by `courtarchive.config.Settings`.

        ``COURTARCHIVE_KEY`` (hex) wins over the key file.  With ``create=True`` a missing key
        file is created; otherwise a missing key is an error that says how to make one.
        Retired keys are read from ``<key file folder>/retired/*.key`` and added to ``old_keys``.
        """
        key_file = Path(settings.key_file)
        if settings.key_hex:
            key = _parse_key_text(settings.key_hex.encode("ascii", "replace"), "COURTARCHIVE_KEY")
        elif key_file.exists():
            key = read_key_file(key_file)
        elif create:
            return cls.create(key_file)
        else:
            raise KeyringError(
                f"no pseudonym key: {key_file} does not exist and COURTARCHIVE_KEY is not set. "
                "Run `courtarchive init` to create the key (then back it up: without it, "
                "pseudonyms cannot be linked to new data), or set COURTARCHIVE_KEY to 64 hex characters.")
        retired_dir = key_file.parent / "retired"
        retired = [read_key_file(p) for p in sorted(retired_dir.glob("*.key"))] if retired_dir.is_dir() else []
        return cls(key, [*old_keys, *retired])

    @classmethod
    def create(cls, path: str | os.PathLike) -> "Keyring":
        """Write a new random key to ``path`` (mode 0600; a created folder gets 0700).

        Refuses to overwrite an existing file: losing a key makes every pseudonym made with it
        unlinkable to new data.  An existing parent folder is left as it is.
        """
        p = Path(path)
        if not p.parent.exists():
            p.parent.mkdir(parents=True, mode=0o700)
            os.chmod(p.parent, 0o700)  # mkdir's mode is filtered by the umask
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(f"key file {p} already exists: refusing to overwrite it") from None
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, key.hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    @classmethod
    def rotate(cls, path: str | os.PathLike) -> "Keyring":
        """Retire the key in ``path`` to ``retired/<key_id>.key`` and create a new one there."""
        p = Path(path)
        old = read_key_file(p)
        retired_dir = p.parent / "retired"
        retired_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(retired_dir, 0o700)
        target = retired_dir / f"{key_id_of(old)}.key"
        os.link(p, target)  # fails if that retired file exists: nothing is overwritten
        os.unlink(p)
        new = cls.create(p)
        return cls(new.key, [old])

    # -- tokens ----------------------------------------------------------------------------------
    def _key_for(self, key_id: str | None) -> bytes:
        if key_id is None:
            return self.key
        try:
            return self._by_id[key_id]
        except KeyError:
            raise KeyringError(f"no key with id {key_id!r} in this keyring") from None

    def token(self, kind: str, identity: str, *, key_id: str | None = None) -> str:
        """HMAC-SHA256(key, kind + US + identity), 32 hex chars. ``key_id`` picks a retired key."""
        if _SEP in kind:
            raise ValueError("kind must not contain the unit separator")
        msg = (kind + _SEP + identity).encode("utf-8")
        return hmac.new(self._key_for(key_id), msg, hashlib.sha256).hexdigest()[:TOKEN_HEX]

    def tokens_all(self, kind: str, identity: str) -> dict[str, str]:
        """The token of ``identity`` under every key held: ``{key_id: token}`` (for lookups
        across a rotation)."""
        return {kid: self.token(kind, identity, key_id=kid) for kid in self._by_id}

    # -- Bloom encoding --------------------------------------------------------------------------
    def _gram_mask(self, gram: str, bits: int, k: int) -> int:
        """The bits one q-gram sets: k independent positions in [0, bits) from keyed HMAC-SHA512
        output taken 16 bits at a time (unbiased when ``bits`` is a power of two)."""
        cache_key = (gram, bits, k)
        mask = self._masks.get(cache_key)
        if mask is None:
            words: list[int] = []
            block = 0
            while len(words) < k:
                d = hmac.new(self._bloom_key, f"{block}{_SEP}{gram}".encode("utf-8"), hashlib.sha512).digest()
                words.extend(int.from_bytes(d[i:i + 2], "big") for i in range(0, len(d), 2))
                block += 1
            mask = 0
            for w in words[:k]:
                mask |= 1 << (w % bits)
            if len(self._masks) < 100_000:
                self._masks[cache_key] = mask
        return mask

    def bloom(self, name: str, *, bits: int = 1024, k: int = 20, q: int = 2) -> bytes:
        """Keyed Bloom-filter (CLK-style) encoding of ``name``'s padded q-grams.

        Bit ``i`` of the filter is bit ``i % 8`` (least significant first) of byte
        ``len - 1 - i // 8`` (the filter is a big-endian integer).  Filters are comparable only
        when made with the same key, ``bits``, ``k`` and ``q``.
        """
        if not (64 <= bits <= 65536 and bits % 8 == 0):
            raise ValueError("bits must be a multiple of 8 between 64 and 65536")
        if not (1 <= k <= 256) or not (1 <= q <= 5):
            raise ValueError("k must be in 1..256 and q in 1..5")
        return self.bloom_normalised(normalise_name(name), bits=bits, k=k, q=q)

    def bloom_normalised(self, normalised: str, *, bits: int = 1024, k: int = 20, q: int = 2) -> bytes:
        """`bloom` of a name already normalised (``normalise_name(name)``), for a caller that has
        it at hand (the intake gate); the default parameters only (`bloom` checks others)."""
        value = 0
        masks = self._masks
        for gram in qgrams(normalised, q):
            mask = masks.get((gram, bits, k))      # `_gram_mask`'s cache, looked at first
            value |= mask if mask is not None else self._gram_mask(gram, bits, k)
        return value.to_bytes(bits // 8, "big")


__all__ = [
    "KEY_BYTES", "Keyring", "KeyringError", "dice", "key_id_of", "load_name_variants", "name_words",
    "normalise_initials", "normalise_name", "qgrams", "read_key_file",
]
