"""The canonical model of courtarchive, declared once, as data.

Every table in the store, every record type the parsers emit and every field the
disclosure policy talks about derive from ENTITIES below.  Nothing else declares
columns.  (followthemoney-style: the model is data; code reads it.)

Field kinds
    str, text, int, bigint, float, bool, date, datetime, bytes, json
Sensitivity classes (read by governance.policy)
    public       court/list facts anyone may see (court, date, room, URN, offence title)
    case         case-level facts shown to the public on public lists (names of defendants
                 appear here too on public lists, but are classed as `identity` below)
    identity     names of natural persons (defendants, other individual parties)
    personal     date of birth, address, gender, ids (ASN/PNC), custody
    wording      offence wording (may carry identifying matter of others)
    pseudonym    keyed pseudonyms and encodings (never reversible without the key)
    internal     housekeeping (ids, hashes, provenance paths)
    never        complainant identity: not stored in clear, never output (listed for the policy)
Refs
    `ref="table"` marks a foreign key to that table's `id`.
    `local="entity"` on a record field marks an index into the same ParsedList's list of that
    entity (parsers cannot know database ids); the store resolves it to the database id.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Literal

Kind = Literal["str", "text", "int", "bigint", "float", "bool", "date", "datetime", "bytes", "json"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    sensitivity: str = "public"
    nullable: bool = True
    ref: str | None = None          # foreign key to <ref>.id
    local: str | None = None        # parser-side index into ParsedList.<local>s
    index: bool = False
    unique: bool = False
    stored: bool = True             # False: carried in records only, never a column
    parsed: bool = True             # False: set by the store, not by parsers
    doc: str = ""
    length: int | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    doc: str
    fields: tuple[Field, ...]
    parsed: bool = True             # parsers emit records of this entity
    indexes: tuple[tuple[str, ...], ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}.{name}")

    @property
    def columns(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.stored)

    @property
    def record_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.parsed)


def F(name: str, kind: Kind, sensitivity: str = "public", **kw) -> Field:
    return Field(name, kind, sensitivity, **kw)


def _prov() -> tuple[Field, ...]:
    """Provenance carried by every stored fact: which publication, where in it."""
    return (
        F("publication_id", "bigint", "internal", ref="publication", parsed=False, index=True,
          doc="the publication (list as received) this fact was read from"),
        F("json_path", "str", "internal", doc="JSON path of the fact inside its publication"),
    )


ENTITIES: dict[str, Entity] = {}


def _add(e: Entity) -> Entity:
    ENTITIES[e.name] = e
    return e


COURT = _add(Entity(
    "court", "A court building, from the shipped FaCT reference table or first seen in a list.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("fact_court_id", "bigint", "internal", unique=True),
        F("name", "str", nullable=False, index=True),
        F("slug", "str", unique=True),
        F("court_types", "str"),
        F("town", "str", index=True),
        F("postcode", "str"),
        F("lat", "float"),
        F("lon", "float"),
        F("crown_court_code", "str", index=True),
        F("magistrate_code", "str"),
        F("police_force_area", "str", index=True),
        F("country", "str"),
        F("region", "str"),
        F("source", "str", "internal", nullable=False, doc="reference | list"),
    ),
    parsed=False,
))

PUBLICATION = _add(Entity(
    "publication", "One list as received (a CaTH artefact, a CSV register, ...).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("list_type", "str", nullable=False, index=True, doc="CaTH x-list-type, e.g. MAGISTRATES_STANDARD_LIST"),
        F("court_id", "bigint", ref="court", parsed=False, index=True),
        F("court_name", "str", doc="court named by the list (before resolution)"),
        F("court_code", "str", doc="court code named by the list or x-court-id"),
        F("court_postcode", "str"),
        F("content_date", "date", index=True, doc="x-content-date: the day the list is for"),
        F("content_date_end", "date", doc="last day covered (warned/firm lists span days)"),
        F("version", "str", doc="list version given by the source"),
        F("published_at", "datetime", doc="publication time given by the source"),
        F("sensitivity", "str", nullable=False, doc="PUBLIC | PRIVATE | CLASSIFIED"),
        F("language", "str", doc="ENGLISH | WELSH | BI_LINGUAL"),
        F("display_from", "datetime"),
        F("display_to", "datetime"),
        F("provenance", "str", doc="x-provenance (e.g. MANUAL_UPLOAD, SNL, COMMON_PLATFORM)"),
        F("source_artefact_id", "str"),
        F("source_name", "str", "internal", doc="file name or message the list came from"),
        F("source_format", "str", "internal", doc="cath-json | csv | ..."),
        F("content_hash", "str", "internal", nullable=False, unique=True, parsed=False,
          doc="sha256 of the canonical JSON of the document: the idempotency key"),
        F("superseded_by", "bigint", "internal", ref="publication", parsed=False, index=True),
        F("ingested_at", "datetime", "internal", parsed=False),
        F("entry_count", "int", "internal", parsed=False),
        F("raw_expired_at", "datetime", "internal", parsed=False,
          doc="when raw identities read from it were pseudonymised (retention)"),
    ),
    indexes=(("court_id", "list_type", "content_date"),),
))

CASE = _add(Entity(
    "case", "One prosecution case across all its hearings and courts.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("case_key", "str", "internal", nullable=False, unique=True,
          doc="urn:<URN> when a URN is known, else cn:<court>:<case number>:<defendant key>"),
        F("urn", "str", index=True),
        F("case_number", "str", index=True),
        F("first_court_id", "bigint", ref="court"),
        F("first_publication_id", "bigint", "internal", ref="publication"),
    ),
    parsed=False,
))

HEARING = _add(Entity(
    "hearing", "One case listed at one sitting of one publication (a hearing entry).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("court_id", "bigint", ref="court", parsed=False, index=True),
        F("court_name", "str", doc="court house named at this entry"),
        F("court_code", "str"),
        F("sitting_date", "date", index=True),
        F("sitting_time", "str", doc="HH:MM local"),
        F("room", "str"),
        F("session_type", "str"),
        F("hearing_type", "str"),
        F("channel", "str"),
        F("judiciary", "str"),
        F("panel", "str", doc="ADULT | YOUTH ..."),
        F("list_note", "text"),
        F("case_urn", "str", stored=False, doc="URN as listed (used to key the case)"),
        F("case_number", "str", doc="case number as listed"),
        F("case_sequence", "str"),
        F("case_name", "str", "identity"),
        F("linked_case_numbers", "str"),
        F("originating_court", "str", doc="for Crown lists: the court the case arrived from"),
        F("prosecuting_authority", "str"),
        F("reporting_restriction", "bool"),
        F("reporting_restriction_detail", "text"),
        F("case_key", "str", "internal", stored=False, doc="optional override of the case key"),
    ),
    indexes=(("court_id", "sitting_date"),),
))

PARTY = _add(Entity(
    "party", "A party as it appears at one hearing (defendant, prosecutor, applicant, ...). "
             "Complainants never become party rows: the intake gate turns them into complainant rows.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("hearing_ref", "int", "internal", local="hearing", stored=False, nullable=False),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("role", "str", nullable=False, index=True, doc="DEFENDANT, PROSECUTING_AUTHORITY, APPLICANT, RESPONDENT, ..."),
        F("title", "str", "identity"),
        F("forenames", "str", "identity"),
        F("middle_names", "str", "identity"),
        F("surname", "str", "identity"),
        F("organisation_name", "str", "case"),
        F("name_as_listed", "str", "identity", doc="the name as one string, as the list gives it"),
        F("date_of_birth", "date", "personal"),
        F("age", "int", "personal"),
        F("gender", "str", "personal"),
        F("address", "text", "personal"),
        F("town", "str", "personal"),
        F("county", "str", "personal"),
        F("postcode", "str", "personal"),
        F("asn", "str", "personal"),
        F("pnc_id", "str", "personal"),
        F("in_custody", "bool", "personal"),
        F("nationality", "str", "personal"),
        F("is_masked", "bool"),
        F("pseudonymised", "bool", "internal", parsed=False,
          doc="identity fields replaced by keyed pseudonyms (retention expiry)"),
    ),
))

OFFENCE = _add(Entity(
    "offence", "One charge against one party at one hearing.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("party_id", "bigint", "internal", ref="party", parsed=False, index=True),
        F("party_ref", "int", "internal", local="party", stored=False, nullable=False),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("seq", "int"),
        F("code", "str", index=True, doc="CJS offence code"),
        F("title", "text"),
        F("wording", "text", "wording", doc="offence wording with complainant identities replaced by tokens"),
        F("legislation", "text"),
        F("max_penalty", "text"),
        F("plea", "str"),
        F("plea_date", "date"),
        F("conviction_date", "date"),
        F("adjourned_date", "date"),
        F("offence_date", "date"),
        F("reporting_restriction", "bool"),
        F("reporting_restriction_detail", "text"),
    ),
))

COMPLAINANT = _add(Entity(
    "complainant", "A complainant mention, pseudonymised at intake. No cleartext identity, ever.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("offence_id", "bigint", "internal", ref="offence", parsed=False, index=True),
        F("offence_ref", "int", "internal", local="offence", stored=False),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("hearing_ref", "int", "internal", local="hearing", stored=False, nullable=False),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("kind", "str", "internal", doc="named | initials | party | described"),
        F("token", "str", "pseudonym", index=True, doc="keyed HMAC-SHA256 of the normalised identity"),
        F("key_id", "str", "internal", doc="id of the key that made the token (key rotation)"),
        F("bloom", "bytes", "pseudonym", doc="keyed Bloom-filter encoding of name q-grams (PPRL)"),
        F("descriptor", "str", "never", doc="coarse description (e.g. 'girl under 16'); never output"),
        F("evidence", "str", "internal", doc="which extractor rule matched"),
    ),
))

QUARANTINE = _add(Entity(
    "quarantine", "A rejected input: what, where and why. Nothing of it reached any other table.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("source_name", "str", "internal", nullable=False),
        F("content_hash", "str", "internal", index=True),
        F("reason", "text", "internal", nullable=False),
        F("json_path", "str", "internal"),
        F("rejected_at", "datetime", "internal", nullable=False),
    ),
    parsed=False,
))

#: which entities a parser emits, in dependency order
PARSED_ENTITIES: tuple[str, ...] = ("hearing", "party", "offence", "complainant")
