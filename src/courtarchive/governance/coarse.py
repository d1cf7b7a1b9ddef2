"""Keyed person tokens and coarse attributes: what replaces a raw identity.

Used by the disclosure gate (analysts see tokens and coarse attributes, never names) and by the
expiry job (pseudonymise-on-expiry writes the same token into the name fields, so links made
before and after expiry join).  The token is ``Keyring.token("person", identity)`` where
``identity = normalise_name(full name) + "|" + ISO date of birth`` (empty when unknown).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from .pseudonym import Keyring, normalise_name

TOKEN_PREFIX = "~p:"     # marks a name field that holds a pseudonym (never a real name)

_POSTCODE = re.compile(r"^\s*([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)\s*([0-9][A-Za-z]{2})?\s*$")
_POSTCODE_ANY = re.compile(r"\b([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)\s*[0-9][A-Za-z]{2}\b")

AGE_BANDS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"),
             (45, 54, "45-54"), (55, 64, "55-64"), (65, 200, "65+"))


def full_name(party: dict) -> str:
    parts = [party.get(k) for k in ("forenames", "middle_names", "surname")]
    name = " ".join(p for p in parts if p)
    return name or (party.get("name_as_listed") or "")


def person_identity(party: dict) -> str | None:
    """The normalised identity a person token is made from; None for a nameless party."""
    name = full_name(party)
    if not name or is_token(name):
        return None
    norm = normalise_name(name)
    if not norm:
        return None
    dob = party.get("date_of_birth")
    return norm + "|" + (dob.isoformat() if isinstance(dob, dt.date) else (str(dob) if dob else ""))


def person_token(keyring: Keyring, party: dict) -> str | None:
    """The party's keyed person token (already-pseudonymised parties keep theirs)."""
    existing = party.get("surname") or party.get("name_as_listed") or ""
    if party.get("pseudonymised") or is_token(existing):
        return strip_token(existing) or None
    ident = person_identity(party)
    return None if ident is None else keyring.token("person", ident)


#: the party fields a person token is made from (`person_identity`: the name, the date of birth)
IDENTITY_FIELDS = ("forenames", "middle_names", "surname", "name_as_listed", "date_of_birth")


def rectified_token(keyring: Keyring | None, old: dict, new: dict, have: dict) -> dict:
    """What a party's coarse row (``have``: its token and key id) holds once the party ``old`` reads
    ``new`` (a rectification): {} to keep it, else {"token", "key_id"}.  The token is made again from
    the new name and date of birth when the stored one is provably the old party's as it stands --
    its token under a key held.  Else it is dropped (None): it was made with what the party no
    longer holds (a date of birth deleted when the personal fields expired), or under a key no
    longer held, or no keyring was given -- it cannot be made again correctly, and the old name's
    token must not stay (linkage and subject searches would still find the old name there).  The
    next expiry of the party's identity writes it again from what the party holds then."""
    tok = have.get("token")
    if not tok:
        return {}
    was, now = person_identity(old), person_identity(new)
    if keyring is None or was is None or tok not in keyring.tokens_all("person", was).values():
        return {"token": None, "key_id": None}
    if now == was:
        return {}
    return {"token": keyring.token("person", now), "key_id": keyring.key_id} if now else {"token": None, "key_id": None}


def is_token(value: str | None) -> bool:
    return bool(value) and str(value).startswith(TOKEN_PREFIX)


def strip_token(value: str | None) -> str:
    v = str(value or "")
    return v[len(TOKEN_PREFIX):] if v.startswith(TOKEN_PREFIX) else v


def age_on(dob: dt.date | None, when: dt.date) -> int | None:
    if dob is None:
        return None
    return when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))


def age_band(age: int | None) -> str | None:
    if age is None:
        return None
    for lo, hi, label in AGE_BANDS:
        if lo <= age <= hi:
            return label
    return None


def outward_postcode(postcode: str | None) -> str | None:
    """The outward code (district) of a UK postcode: ``PR1 1AA`` -> ``PR1``."""
    if not postcode:
        return None
    m = _POSTCODE.match(postcode)
    if m:
        return m.group(1).upper()
    m = _POSTCODE_ANY.search(postcode)
    return m.group(1).upper() if m else None


@lru_cache(maxsize=4096)
def police_force_area(town: str | None, county: str | None = None, fallback: str | None = None) -> str | None:
    """Police force area of a town (shipped gazetteer), else ``fallback`` (e.g. the court's)."""
    if town:
        try:
            from ..data.reference import find_towns

            found = find_towns(town)
        except Exception:  # pragma: no cover - reference data missing
            found = []
        areas = {t.get("police_force_area") for t in found if t.get("police_force_area")}
        if len(areas) == 1:
            return areas.pop()
    return fallback


def coarse_party(party: dict, *, on: dt.date | None = None, court_pfa: str | None = None) -> dict:
    """Coarse attributes of a party: age band, outward postcode, police force area."""
    on = on or dt.date.today()
    age = party.get("age")
    dob = party.get("date_of_birth")
    if isinstance(dob, dt.date):
        age = age_on(dob, on)
    return {"age_band": age_band(age), "outward_postcode": outward_postcode(party.get("postcode")),
            "police_force_area": police_force_area(party.get("town"), party.get("county"), court_pfa)}


#: the coarse attribute a party field is kept as in ``party_coarse`` (`coarse_party` computes it)
COARSE_FORM = {"date_of_birth": "age_band", "age": "age_band", "postcode": "outward_postcode",
               "town": "police_force_area", "county": "police_force_area"}


def rectified_coarse(keyring: Keyring | None, old: dict, new: dict, have: dict, field: str, *, expired: bool,
                     on: dt.date | None, court_pfa: str | None = None) -> dict:
    """What a party's coarse row (``have``) holds once the party ``old`` reads ``new`` by the
    rectification of ``field``: {} to keep it, else the columns that change.

    - the attribute the field is kept as (`COARSE_FORM`) is computed again as the expiry computed it
      (`coarse_party`, the age banded ``on`` the day the expiry banded it on): a corrected date of
      birth or age moves the age band, a corrected postcode the outward postcode, a corrected town
      the police force area;
    - the person token (a name or the date of birth): `rectified_token` -- unless the date of birth
      is corrected after it ``expired`` (deleted with the personal fields): the stored token was made
      from the name and the date of birth now corrected, so it is made from the name and the
      corrected one (the token the expiry would have made had the party held it, and that the
      identity's expiry keeps, `retention._token_of`); dropped without a keyring (the old one is
      the wrong date of birth's)."""
    ch = {}
    if field == "date_of_birth" and expired:
        ident = person_identity(new)
        tok = keyring.token("person", ident) if keyring is not None and ident else None
        if tok != have.get("token"):
            ch = {"token": tok, "key_id": keyring.key_id if tok else None}
    elif field in IDENTITY_FIELDS:
        ch = rectified_token(keyring, old, new, have)
    if key := COARSE_FORM.get(field):
        value = coarse_party(new, on=on, court_pfa=court_pfa)[key]
        if value != have.get(key):
            ch[key] = value
    return ch
