"""The licence profile (TOML): retention periods, expiry actions per field, derived-store hooks,
disclosure settings, recipient policy and named external processors.

Found at: an explicit path, else ``$COURTARCHIVE_PROFILE``, else ``<home>/profile.toml``, else the
built-in `DEFAULTS` (identical to ``profiles/default.toml``; a test checks).  A profile file only
needs the keys it changes: it is merged over the defaults -- tables key by key, a list whole: a
file's ``[derived_stores] hooks`` replaces the default list.  The built-in hooks, which purge
copies of personal data, run whatever it lists (`governance.hooks.BUILT_IN`): a profile may add
the hooks of its own stores, it cannot drop the law's.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..model.declaration import ENTITIES

EXPIRY_ACTIONS = ("delete", "token", "band", "outward", "summary", "keep")

_FREE_WEBMAIL = ["gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk",
                 "outlook.com", "live.com", "live.co.uk", "msn.com", "icloud.com", "me.com", "aol.com",
                 "protonmail.com", "proton.me", "gmx.com", "gmx.co.uk", "mail.com", "yandex.com", "zoho.com",
                 "btinternet.com", "sky.com", "virginmedia.com", "talktalk.net"]

DEFAULTS: dict = {
    "licence": {"name": "HMCTS media protocol (default profile)", "licensor": "HM Courts & Tribunals Service",
                "use": "reporting court proceedings (journalism)", "controller": "the archive operator"},
    "retention": {"raw_personal_months": 6, "batch_size": 200,
                  "classes": {"identity": 6, "personal": 6, "wording": 6}},
    "expiry": {"fields": {
        "party.title": "delete", "party.forenames": "delete", "party.middle_names": "delete",
        "party.surname": "token", "party.name_as_listed": "token", "party.date_of_birth": "delete",
        "party.age": "band", "party.gender": "keep", "party.address": "delete", "party.town": "keep",
        "party.county": "keep", "party.postcode": "outward", "party.asn": "delete", "party.pnc_id": "delete",
        "party.in_custody": "keep", "party.nationality": "delete", "hearing.case_name": "delete",
        "hearing.list_note": {"action": "delete", "class": "wording"},
        "hearing.reporting_restriction_detail": {"action": "summary", "class": "wording"},
        "offence.wording": "delete",
        "offence.reporting_restriction_detail": {"action": "summary", "class": "wording"},
        "case.case_key": {"action": "token", "class": "identity"},
        "publication.source_name": {"action": "delete", "class": "identity"},
        "search_name.name_norm": "delete", "search_name.surname_norm": "delete",
        "search_name.forenames_norm": "delete",
        "search_name.birth_year": "delete", "search_name.town": "delete",
        "search_key.name_norm": "delete", "search_key.name_keys": "delete",
        "subscription.query": {"action": "keep", "class": "identity"},
    }},
    "derived_stores": {"hooks": ["courtarchive.governance.hooks:exports_cache",
                                 "courtarchive.governance.hooks:linkage_inputs",
                                 "courtarchive.governance.hooks:screening_cache",
                                 "courtarchive.governance.hooks:analysis_cache",
                                 "courtarchive.serve.search:governance_hook",
                                 "courtarchive.serve.alerts:governance_hook"],
                       "exports_cache": "exports"},
    "disclosure": {"small_cell_threshold": 5, "spent_hidden_from_roles": ["public"],
                   "spent_hidden_from_outputs": ["alert", "digest"]},
    "distribution": {"free_webmail": _FREE_WEBMAIL, "legal_adviser_domains": []},
    "processors": {"named": []},
    "intake": {"mail_senders": ["@justice.gov.uk", "*.justice.gov.uk", "@hmcts.net"]},
}


class ProfileError(ConfigError):
    """A licence profile that cannot be read, is not TOML or is not valid: the message names the
    file.  A ConfigError: the command line says it in one line (exit code 2), whichever command
    loaded the profile."""


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "fields":
            out[k] = _merge(out[k], v)
        elif k == "fields" and isinstance(v, dict):
            out[k] = {**out.get(k, {}), **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass(frozen=True)
class FieldAction:
    table: str
    field: str
    action: str
    cls: str


@dataclass
class Profile:
    data: dict
    path: str | None = None

    # ------------------------------------------------------------------ retention
    def months(self, cls: str) -> int:
        r = self.data["retention"]
        return int(r.get("classes", {}).get(cls, r["raw_personal_months"]))

    def cutoff(self, cls: str, as_of: dt.date) -> dt.date:
        """Content dates before this are due for class ``cls`` on day ``as_of``."""
        return add_months(as_of, -self.months(cls))

    @property
    def batch_size(self) -> int:
        return int(self.data["retention"].get("batch_size", 200))

    def field_actions(self) -> list[FieldAction]:
        out = []
        for key, v in self.data["expiry"]["fields"].items():
            table, _, fname = key.partition(".")
            action, cls = (v, None) if isinstance(v, str) else (v.get("action"), v.get("class"))
            if table not in ENTITIES:
                raise ProfileError(f"expiry.fields: unknown table in {key!r}")
            try:
                f = ENTITIES[table].field(fname)
            except KeyError:
                raise ProfileError(f"expiry.fields: unknown field {key!r}") from None
            if action not in EXPIRY_ACTIONS:
                raise ProfileError(f"expiry.fields.{key}: action {action!r} not one of {EXPIRY_ACTIONS}")
            out.append(FieldAction(table, fname, action, cls or f.sensitivity))
        return out

    @property
    def classes(self) -> list[str]:
        return sorted({fa.cls for fa in self.field_actions() if fa.action != "keep"})

    # ------------------------------------------------------------------ other sections
    def get(self, section: str, key: str, default=None):
        return self.data.get(section, {}).get(key, default)

    @property
    def processors(self) -> list[dict]:
        return list(self.data.get("processors", {}).get("named", []))

    def exports_dir(self, home: Path) -> Path:
        p = Path(self.data["derived_stores"].get("exports_cache", "exports"))
        return p if p.is_absolute() else home / p

    def retention_summary(self) -> dict:
        r = self.data["retention"]
        return {"raw_personal_months": r["raw_personal_months"], "classes": dict(r.get("classes", {})),
                "batch_size": self.batch_size}


def add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover


def load(path: str | os.PathLike | None = None, *, home: Path | None = None) -> Profile:
    if path is None:
        path = os.environ.get("COURTARCHIVE_PROFILE")
    if path is None and home is not None and (Path(home) / "profile.toml").exists():
        path = Path(home) / "profile.toml"
    if path is None:
        prof = Profile(copy.deepcopy(DEFAULTS), None)
    else:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as e:
            raise ProfileError(f"cannot read the licence profile {e.filename or path}: {e.strerror or e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ProfileError(f"the licence profile {path} is not valid TOML: {e}") from None
        prof = Profile(_merge(DEFAULTS, data), str(path))
        ret = data.get("retention") if isinstance(data.get("retention"), dict) else {}
        if "raw_personal_months" in ret:
            # a class the file does not name keeps raw data for the file's raw_personal_months, not
            # the built-in classes' 6 (a licence of 3 months was held to 6)
            given = ret.get("classes") if isinstance(ret.get("classes"), dict) else {}
            prof.data["retention"]["classes"] = {**{c: ret["raw_personal_months"]
                                                    for c in prof.data["retention"]["classes"]}, **given}
    try:
        for key, v in [("raw_personal_months", prof.data["retention"].get("raw_personal_months")),
                       *((f"classes.{c}", m) for c, m in (prof.data["retention"].get("classes") or {}).items())]:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ProfileError(f"retention.{key} must be a whole number of months, not {v!r}")
        prof.field_actions()  # validate
        specs = prof.data["derived_stores"].get("hooks")
        if not isinstance(specs, list) or not all(isinstance(h, str) and h.strip() for h in specs):
            raise ProfileError(f'derived_stores.hooks must be a list of "module:function" names, not {specs!r}')
        for p in prof.processors:
            if not p.get("name") or not p.get("purpose"):
                raise ProfileError("every [[processors.named]] entry needs a name and a purpose")
    except ProfileError as e:
        raise ProfileError(f"the licence profile {prof.path or '(built-in)'} is not valid: {e}") from None
    return prof
