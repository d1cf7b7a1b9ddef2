"""Accounts for the web portal and the API: passwords, sessions, CSRF, login rate limits, API tokens.

- Passwords: argon2id hashes (argon2-cffi ``PasswordHasher``; parameters rehashed when they change).
- Sessions: the cookie carries ``secrets.token_urlsafe(32)``; the store keeps only its SHA-256,
  with an expiry and a per-session CSRF token.  Cookie: HttpOnly, SameSite=Lax, Secure when the
  portal is served over https (setting).
- CSRF: every unsafe request authenticated by the session cookie must carry the session's CSRF
  token (form field ``csrf_token`` or header ``X-CSRF-Token``).  The sign-in form itself is
  protected by a double-submit cookie (there is no session yet).
- Rate limits: failed sign-ins per username and per address within a window (login_attempt rows);
  over the limit the attempt is refused before the password is checked.
- API tokens: ``Authorization: Bearer ca_...``; shown once, stored as SHA-256, revocable, optional expiry.
  An ``Authorization`` header of another scheme (an HTTP-auth reverse proxy's ``Basic``) is no API
  token: the pages ignore it (the session cookie signs in as usual), the API answers it with a 401.

Who may see what is not decided here: a signed-in principal becomes a governance `Viewer`
(``governance.accounts.viewer``) and the disclosure gate does the rest.  Anonymous = public.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..governance import audit
from ..governance.policy import Viewer
from ..store import governance as sg
from ..store import serve as ss

SESSION_COOKIE = "ca_session"
LOGIN_CSRF_COOKIE = "ca_login_csrf"
TOKEN_PREFIX = "ca_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MIN_PASSWORD = 10

_hasher = PasswordHasher()          # argon2id, argon2-cffi's RFC 9106 low-memory defaults
# a fixed hash to verify against when the account does not exist (same time either way)
_DUMMY = _hasher.hash("courtarchive-no-such-account")


class AuthError(Exception):
    """Sign-in refused (wrong name or password, inactive account)."""


class RateLimited(AuthError):
    def __init__(self, msg: str, retry_after: int):
        super().__init__(msg)
        self.retry_after = retry_after


class CsrfError(PermissionError):
    pass


@dataclass
class Limits:
    per_user: int = 5
    per_ip: int = 20
    window_minutes: int = 15
    session_hours: float = 12.0


@dataclass
class Principal:
    """Who is asking: the governance viewer plus how they authenticated."""

    viewer: Viewer
    via: str = "anonymous"            # anonymous | session | token
    account: dict | None = None
    session: dict | None = None
    csrf: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def username(self) -> str:
        return self.viewer.username

    @property
    def signed_in(self) -> bool:
        return self.via != "anonymous"

    @property
    def role(self) -> str:
        return self.viewer.role

    @classmethod
    def anonymous(cls) -> "Principal":
        return cls(Viewer.public())


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return ss.now()


# --------------------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password or "") and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(archive, username: str, password: str, *, actor: str) -> None:
    """Set an account's password (argon2id); signs out its sessions; audited."""
    acc = sg.get_account(archive, username)
    if acc is None:
        raise ValueError(f"no account {username!r}: create it first (courtarchive account add {username} --role ...)")
    ss.set_password_hash(archive, username, hash_password(password))
    ss.delete_sessions_of(archive, acc["id"])
    audit.record(archive, actor=actor, role="admin", action="password_set", purpose="administration",
                 objects={"account": [acc["id"]]})


# --------------------------------------------------------------------------- sign in / out
def check_rate(archive, *, username: str, ip: str | None, limits: Limits) -> None:
    since = _now() - dt.timedelta(minutes=limits.window_minutes)
    if ss.failed_logins(archive, since=since, username=username) >= limits.per_user:
        raise RateLimited(f"too many failed sign-ins for {username!r}: try again in {limits.window_minutes} minutes",
                          limits.window_minutes * 60)
    if ip and ss.failed_logins(archive, since=since, ip=ip) >= limits.per_ip:
        raise RateLimited(f"too many failed sign-ins from this address: try again in {limits.window_minutes} minutes",
                          limits.window_minutes * 60)


def login(archive, username: str, password: str, *, ip: str | None, user_agent: str | None,
          limits: Limits, writing=None) -> tuple[str, str, dt.datetime]:
    """Check the password and open a session: returns (cookie token, CSRF token, expiry).
    Raises RateLimited or AuthError (same message for unknown user and wrong password).
    ``writing``: a context manager held around the writes (the portal's audit-chain lock); the
    password check (argon2, deliberately slow) runs outside it."""
    writing = writing or contextlib.nullcontext()
    username = (username or "").strip()
    if not username:
        raise AuthError("enter your username and password")
    check_rate(archive, username=username, ip=ip, limits=limits)
    acc = sg.get_account(archive, username)
    ok = verify_password(acc.get("password_hash") if acc else None, password)
    if ok and acc.get("active") is False:
        ok = False
    rehash = ok and _hasher.check_needs_rehash(acc["password_hash"])
    new_hash = _hasher.hash(password) if rehash else None
    with writing:
        ss.record_login_attempt(archive, username=username, ip=ip, ok=ok)
        if not ok:
            audit.record(archive, actor=username, role="public", action="login_failed", purpose="authentication",
                         details={"ip": ip})
            raise AuthError("wrong username or password")
        if new_hash:
            ss.set_password_hash(archive, username, new_hash)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = _now() + dt.timedelta(hours=limits.session_hours)
        ss.create_session(archive, account_id=acc["id"], token_hash=sha256(token), csrf_token=csrf,
                          expires_at=expires, ip=ip, user_agent=user_agent)
        audit.record(archive, actor=username, role=acc["role"], action="login", purpose="authentication",
                     objects={"account": [acc["id"]]})
    return token, csrf, expires


def logout(archive, token: str | None) -> bool:
    return bool(token) and ss.delete_session(archive, sha256(token))


# --------------------------------------------------------------------------- who is asking
def from_session(archive, token: str | None) -> Principal | None:
    if not token:
        return None
    s = ss.get_session(archive, sha256(token))
    if s is None or s["expires_at"] <= _now() or s["account"]["active"] is False:
        return None
    return Principal(Viewer.from_account(s["account"]), via="session", session=s, csrf=s["csrf_token"])


def bearer_scheme(header: str | None) -> bool | None:
    """Whether an ``Authorization`` header is of the Bearer scheme (any case); None when there is none.
    Another scheme (``Basic ...`` from an HTTP-auth reverse proxy in front of the portal, ``Digest``,
    ``Negotiate``) is not ours: the pages ignore it, the API refuses it (`app`)."""
    if not (header or "").strip():
        return None
    return header.split(None, 1)[0].lower() == "bearer"


def from_bearer(archive, header: str | None) -> Principal | None:
    """Principal of an ``Authorization: Bearer`` header; None when absent or of another scheme
    (see `bearer_scheme`).  Raises AuthError when a Bearer token is given but empty, unknown,
    revoked or expired."""
    if not bearer_scheme(header):
        return None
    parts = header.split(None, 1)
    value = parts[1].strip() if len(parts) == 2 else ""
    if not value:
        raise AuthError("Authorization must be 'Bearer <token>'")
    t = ss.get_token(archive, sha256(value))
    if t is None:
        raise AuthError("unknown API token")
    if t["revoked_at"] is not None:
        raise AuthError("this API token was revoked")
    if t["expires_at"] is not None and t["expires_at"] <= _now():
        raise AuthError("this API token has expired")
    if t["account"]["active"] is False:
        raise AuthError("the token's account is inactive")
    if t["last_used_at"] is None or t["last_used_at"] < _now() - dt.timedelta(seconds=60):
        ss.touch_token(archive, t["id"])          # at most once a minute: no write per request
    return Principal(Viewer.from_account(t["account"]), via="token", extra={"token_id": t["id"]})


def check_csrf(principal: Principal, method: str, supplied: str | None) -> None:
    """Unsafe methods under cookie authentication need the session's CSRF token."""
    if method.upper() in SAFE_METHODS or principal.via != "session":
        return
    if not supplied or not principal.csrf or not hmac.compare_digest(supplied, principal.csrf):
        raise CsrfError("missing or wrong CSRF token: reload the page and try again")


# --------------------------------------------------------------------------- API tokens
def create_token(archive, username: str, *, name: str, days: float | None = None, actor: str) -> dict:
    acc = sg.get_account(archive, username)
    if acc is None:
        raise ValueError(f"no account {username!r}")
    if not (name or "").strip():
        raise ValueError("a token needs a name (what it is for)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = _now() + dt.timedelta(days=days) if days else None
    tid = ss.create_token(archive, account_id=acc["id"], name=name.strip(), token_hash=sha256(token),
                          prefix=token[:10], expires_at=expires)
    audit.record(archive, actor=actor, role="admin", action="token_create", purpose="administration",
                 objects={"account": [acc["id"]], "api_token": [tid]})
    return {"id": tid, "token": token, "username": username, "name": name.strip(), "expires_at": expires}


def list_tokens(archive, username: str | None = None) -> list[dict]:
    if username is None:
        return ss.list_tokens(archive)
    acc = sg.get_account(archive, username)
    return ss.list_tokens(archive, account_id=acc["id"]) if acc else []


def revoke_token(archive, token_id: int, *, actor: str, username: str | None = None) -> bool:
    acc_id = None
    if username is not None:
        acc = sg.get_account(archive, username)
        if acc is None:
            return False
        acc_id = acc["id"]
    ok = ss.revoke_token(archive, token_id, account_id=acc_id)
    audit.record(archive, actor=actor, role="admin", action="token_revoke", purpose="administration",
                 objects={"api_token": [token_id]}, details={"revoked": ok})
    return ok
