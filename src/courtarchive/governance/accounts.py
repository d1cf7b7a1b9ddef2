"""Accounts: who may use the archive, in which role; accredited media carry a verification record
(press card, employer, who checked it, expiry 365 days after the check -- HMCTS media protocol:
court staff check accreditation, e.g. the UK Press Card)."""

from __future__ import annotations

import datetime as dt
import re

from ..store import governance as sg
from . import audit
from .policy import ROLES, VERIFICATION_DAYS, Viewer


#: a username: letters, digits and . _ @ - (no spaces), as sign-in forms and ``--as`` take it
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
#: an e-mail address: one @, a local part without spaces, a domain of dot-separated labels
EMAIL = re.compile(r"[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def _check(username: str, role: str | None, email: str | None) -> None:
    if not username:
        raise ValueError("an account needs a username")
    if not USERNAME.fullmatch(username):
        raise ValueError(f"username {username!r}: letters, digits and . _ @ - only (no spaces), at most 100")
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if email is not None and not EMAIL.fullmatch(email):
        raise ValueError(f"{email!r} is not an e-mail address (name@domain.tld)")


def add(archive, *, username: str, role: str, actor: str, email: str | None = None,
        organisation: str | None = None, if_exists: str = "update") -> int:
    """Create an account.  ``if_exists``: ``"update"`` (the portal's "add or change an account"
    form) sets the role, e-mail and organisation of an existing one; ``"error"`` (the
    `account add` command) refuses it -- `update` changes an account explicitly."""
    _check(username, role, email)
    if if_exists not in ("update", "error"):
        raise ValueError("if_exists must be update or error")
    if if_exists == "error" and sg.get_account(archive, username) is not None:
        raise ValueError(f"account {username!r} exists: `account update {username} ...` changes it")
    aid = sg.save_account(archive, {"username": username, "role": role, "email": email, "organisation": organisation})
    audit.record(archive, actor=actor, role="admin", action="account_save", purpose="administration",
                 objects={"account": [aid]}, details={"role": role})
    return aid


def update(archive, *, username: str, actor: str, role: str | None = None, email: str | None = None,
           organisation: str | None = None) -> dict:
    """Change an existing account: only the fields given (None: unchanged).  Returns it before
    and after (no secrets)."""
    _check(username, role, email)
    acc = sg.get_account(archive, username)
    if acc is None:
        raise ValueError(f"no account {username!r}: `account add {username} --role ...` creates it")
    change = {k: v for k, v in (("role", role), ("email", email), ("organisation", organisation)) if v is not None}
    if not change:
        raise ValueError("nothing to change: give --role, --email or --organisation")
    sg.save_account(archive, {"username": username, **change})
    audit.record(archive, actor=actor, role="admin", action="account_save", purpose="administration",
                 objects={"account": [acc["id"]]},
                 details={"role": change.get("role", acc["role"]), "changed": sorted(change)})
    after = sg.get_account(archive, username)
    strip = ("password_hash",)
    return {"before": {k: v for k, v in acc.items() if k not in strip},
            "after": {k: v for k, v in after.items() if k not in strip}}


def verify(archive, *, username: str, press_card: str, verified_by: str, employer: str | None = None,
           issuer: str | None = None, when: dt.datetime | None = None) -> dict:
    """Record that a person checked the account holder's press card and employer."""
    acc = sg.get_account(archive, username)
    if acc is None:
        raise ValueError(f"no account {username!r}")
    if not press_card or not verified_by or not (employer or acc.get("organisation")):
        raise ValueError("verification needs the press card (--press-card), the employer (--organisation, at `account add` or here) and the person who checked them (--actor)")
    when = when or sg.now()
    row = {"username": username, "press_card": press_card, "press_card_issuer": issuer,
           "organisation": employer or acc["organisation"], "verified_by": verified_by, "verified_at": when,
           "verification_expires": when + dt.timedelta(days=VERIFICATION_DAYS)}
    sg.save_account(archive, row)
    audit.record(archive, actor=verified_by, role="admin", action="account_verify", purpose="administration",
                 objects={"account": [acc["id"]]}, details={"expires": row["verification_expires"].isoformat()})
    return sg.get_account(archive, username)


def viewer(archive, username: str) -> Viewer:
    """The `Viewer` the gate applies for an account (unknown or inactive: public)."""
    acc = sg.get_account(archive, username)
    return Viewer.from_account(acc) if acc else Viewer(username, "public")


def listing(archive) -> list[dict]:
    """Accounts without their secrets (the password hash never leaves the store)."""
    return [{k: v for k, v in r.items() if k != "password_hash"} for r in sg.list_accounts(archive)]
