"""Accounts: who may use the archive, in which role; accredited media carry a verification record
(press card, employer, who checked it, expiry 365 days after the check -- HMCTS media protocol:
court staff check accreditation, e.g. the UK Press Card)."""

from __future__ import annotations

import datetime as dt

from ..store import governance as sg
from . import audit
from .policy import ROLES, VERIFICATION_DAYS, Viewer


def add(archive, *, username: str, role: str, actor: str, email: str | None = None,
        organisation: str | None = None) -> int:
    if not username:
        raise ValueError("an account needs a username")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    aid = sg.save_account(archive, {"username": username, "role": role, "email": email, "organisation": organisation})
    audit.record(archive, actor=actor, role="admin", action="account_save", purpose="administration",
                 objects={"account": [aid]}, details={"role": role})
    return aid


def verify(archive, *, username: str, press_card: str, verified_by: str, employer: str | None = None,
           issuer: str | None = None, when: dt.datetime | None = None) -> dict:
    """Record that a person checked the account holder's press card and employer."""
    acc = sg.get_account(archive, username)
    if acc is None:
        raise ValueError(f"no account {username!r}")
    if not press_card or not verified_by or not (employer or acc.get("organisation")):
        raise ValueError("verification needs the press card, the employer and the person who checked them")
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
