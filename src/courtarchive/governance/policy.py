"""Roles and the role x field policy, declared as data.

The policy is derived from the model: every field of every entity has a sensitivity class
(`model.declaration`), and the tables below say what each role gets of each class.  Nothing here
is behaviour; `governance.disclose` reads these tables.

Sources: HMCTS media protocol (2020) and LAW.md rules 9-12 (who may see personal-level data and
for what purpose); CaTH sensitivity levels (PUBLIC / PRIVATE / CLASSIFIED).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..model.declaration import ENTITIES

#: sensitivity classes of the model (see model/declaration.py) plus two used only here:
#: ``key`` (ids and foreign keys: navigation, never personal) and ``unknown`` (a record key the
#: model does not declare: treated like ``personal``, so an undeclared field fails closed).
CLASSES = ("public", "case", "identity", "personal", "wording", "pseudonym", "internal", "never",
           "key", "unknown")

#: what a role gets of a field of each class:
#:   show          the value as stored
#:   drop          removed (set to None and listed in the record's ``_redacted``)
#:   pseudonymise  the keyed person token instead of the name (analyst: links work, no identity)
#:   coarse        a coarse attribute instead (age band, outward postcode, police force area)
FIELD_POLICY: dict[str, dict[str, str]] = {
    #                 public  case    identity        personal  wording pseudonym internal never   key     unknown
    "public":         dict(public="show", case="show", identity="drop", personal="drop", wording="drop",
                           pseudonym="drop", internal="drop", never="drop", key="show", unknown="drop"),
    "verified_media": dict(public="show", case="show", identity="show", personal="show", wording="show",
                           pseudonym="drop", internal="drop", never="drop", key="show", unknown="show"),
    "analyst":        dict(public="show", case="show", identity="pseudonymise", personal="coarse",
                           wording="drop", pseudonym="show", internal="show", never="drop", key="show",
                           unknown="drop"),
    "admin":          dict(public="show", case="show", identity="show", personal="show", wording="show",
                           pseudonym="show", internal="show", never="drop", key="show", unknown="show"),
}

#: personal-level classes: only released for one of the role's journalism/administration purposes
#: (LAW.md rule 9: not a verified journalist, or purpose not journalism -> no personal-level data)
PERSONAL_LEVEL = frozenset({"identity", "personal", "wording", "unknown"})


@dataclass(frozen=True)
class Role:
    name: str
    doc: str
    needs_verification: bool = False
    #: purposes for which personal-level classes are released (others: dropped)
    personal_purposes: frozenset[str] = frozenset()
    #: may receive alerts / exports (LAW.md rule 10; issue 7 §9)
    may_receive: bool = False
    #: the purpose the role acts for unless it states another (CLI, portal, API)
    default_purpose: str = "public_interest"


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("public", "Anyone, not signed in or not verified: court/list facts only."),
    Role("verified_media", "An accredited journalist (press card checked by a person; re-verified "
         "every 365 days): names, date of birth, address and offence wording, for journalism.",
         needs_verification=True, personal_purposes=frozenset({"journalism"}), may_receive=True,
         default_purpose="journalism"),
    Role("analyst", "Researcher/analyst: pseudonymised data only (keyed tokens, coarse attributes).",
         may_receive=True, default_purpose="analysis"),
    Role("admin", "Operator: administration, rights requests, legal holds; every access audited.",
         personal_purposes=frozenset({"administration", "rights_request", "legal_hold", "audit"}),
         may_receive=True, default_purpose="administration"),
)}

#: the purpose each role acts for by default (personal-level data is released only for one of
#: the role's ``personal_purposes``)
DEFAULT_PURPOSE: dict[str, str] = {r.name: r.default_purpose for r in ROLES.values()}

#: every purpose an access may state (the audit records it): the roles' own.  Any other would be
#: recorded as given and release nothing personal-level -- a typo silently emptying an export
PURPOSES: frozenset[str] = frozenset(DEFAULT_PURPOSE.values()).union(*(r.personal_purposes for r in ROLES.values()))

#: CaTH sensitivity per publication -> roles that may see records read from it.
#: PUBLIC: anyone; PRIVATE: verified accounts; CLASSIFIED: verified media only (admin too, for
#: administration, audited).  Unknown or missing sensitivity is treated as CLASSIFIED.
PUBLICATION_SENSITIVITY: dict[str, frozenset[str]] = {
    "PUBLIC": frozenset({"public", "verified_media", "analyst", "admin"}),
    "PRIVATE": frozenset({"verified_media", "analyst", "admin"}),
    "CLASSIFIED": frozenset({"verified_media", "admin"}),
}

#: record keys that are not model fields but appear in read models (e.g. Archive.case_timeline)
DERIVED_FIELDS: dict[str, str] = {
    "name": "identity", "court": "public", "court_id": "key", "list_type": "public",
    "sensitivity": "public", "offences": "public", "parties": "public", "hearings": "public",
    "person_id": "key", "network_id": "key", "case": "public", "count": "public",
    "superseded_by": "public", "content_date": "public",
}

VERIFICATION_DAYS = 365


@dataclass(frozen=True)
class Verification:
    """The accreditation check of a verified_media account (HMCTS media protocol: staff check
    accreditation, e.g. the UK Press Card)."""

    press_card: str
    employer: str
    verified_by: str
    verified_at: dt.datetime
    issuer: str | None = None

    @property
    def expires(self) -> dt.datetime:
        return self.verified_at + dt.timedelta(days=VERIFICATION_DAYS)

    def valid(self, now: dt.datetime) -> bool:
        return bool(self.press_card and self.employer and self.verified_by) and \
            self.verified_at <= now < self.expires


@dataclass(frozen=True)
class Viewer:
    """Who is asking.  ``role`` is the account's role; `effective_role` what the gate applies."""

    username: str
    role: str
    organisation: str | None = None
    email: str | None = None
    verification: Verification | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}: one of {', '.join(ROLES)}")

    def effective_role(self, now: dt.datetime | None = None) -> str:
        """verified_media without a valid (unexpired) verification is treated as public."""
        now = now or dt.datetime.now()
        if ROLES[self.role].needs_verification:
            if self.verification is None or not self.verification.valid(now):
                return "public"
        return self.role

    @classmethod
    def public(cls) -> "Viewer":
        return cls("anonymous", "public")

    @classmethod
    def from_account(cls, row: dict) -> "Viewer":
        ver = None
        if row.get("press_card") and row.get("verified_at"):
            ver = Verification(press_card=row["press_card"], employer=row.get("organisation") or "",
                               verified_by=row.get("verified_by") or "", verified_at=row["verified_at"],
                               issuer=row.get("press_card_issuer"))
        role = row["role"] if row.get("active", True) is not False else "public"
        return cls(row["username"], role, organisation=row.get("organisation"), email=row.get("email"),
                   verification=ver)


def field_class(entity: str | None, name: str) -> str:
    """The sensitivity class the policy applies to key ``name`` of a record of ``entity``."""
    if name == "id":
        return "key"
    e = ENTITIES.get(entity or "")
    if e is not None:
        for f in e.fields:
            if f.name == name:
                if f.ref and f.sensitivity == "internal":
                    return "key"
                return f.sensitivity
    if name.endswith("_id") and name not in ("asn_id", "pnc_id"):
        return "key"
    return DERIVED_FIELDS.get(name, "unknown")


def action_for(role: str, cls: str, purpose: str | None) -> str:
    act = FIELD_POLICY[role][cls]
    if act == "show" and cls in PERSONAL_LEVEL and role != "analyst":
        if purpose not in ROLES[role].personal_purposes:
            return "drop"
    return act


def sees_identity(viewer: "Viewer", purpose: str | None = None, now: dt.datetime | None = None) -> bool:
    """Whether ``viewer`` sees who people are, for ``purpose`` (default: the role's own).  Finding
    people by name -- name search, screening, following a name -- is use of identity: only for them."""
    return action_for(viewer.effective_role(now), "identity", purpose or DEFAULT_PURPOSE[viewer.role]) == "show"


def may_see_publication(role: str, sensitivity: str | None) -> bool:
    allowed = PUBLICATION_SENSITIVITY.get((sensitivity or "").upper(), PUBLICATION_SENSITIVITY["CLASSIFIED"])
    return role in allowed


def policy_table() -> list[dict]:
    """Role x entity.field -> action (for the compliance report and docs)."""
    out = []
    for ename, e in ENTITIES.items():
        for f in e.fields:
            if not f.stored:
                continue
            cls = field_class(ename, f.name)
            out.append({"entity": ename, "field": f.name, "class": cls,
                        **{r: FIELD_POLICY[r][cls] for r in ROLES}})
    return out
