"""Mail intake: lists that arrive as e-mail attachments, from a Maildir or an IMAP mailbox.

Each message is read with the stdlib `email` package (policy ``default``) and
    1. its sender (every address of ``From:``) is checked against the licence profile's
       ``[intake] mail_senders`` patterns (`sender_allowed`).  A message from a sender the profile
       does not list is **quarantined**: one quarantine row (``source_name`` ``mail:<Message-ID>``,
       the reason naming the sender's domain, the hash of the whole message), nothing of it ingested;
    2. otherwise every attachment whose name ends in a list format the pipeline reads (``.json``,
       ``.csv``, ``.pdf``, ``.xlsx``: `pipeline.FORMATS`) goes through the normal ingest path --
       the format's parser (`pipeline.parse_file`), the intake gate (complainants pseudonymised
       before anything is written), then the store, one transaction per attachment, idempotent by
       the hash of the attachment's bytes (`pipeline.content_hash`).  A bad attachment is rejected
       and quarantined (``mail:<Message-ID>/<file name>``) with the parser's reason and place; the
       message's other attachments go on.  An attachment ``<name>.meta.json`` (the suffix in any
       case) carries the CaTH headers of ``<name>`` (as a sidecar file does on disk);
    3. provenance: the publication's ``provenance`` is ``mail <Message-ID> from <sender> to
       <recipients> date <Date, ISO 8601 UTC>`` (plus ``; x-provenance <value>`` when the sender
       gave one in a sidecar); its ``source_name`` is ``mail:<Message-ID>/<file name>``.

Maildir (`intake_maildir`): messages in ``new/`` and unseen ones in ``cur/`` are read; each,
once handled (ingested, rejected or quarantined), is moved to ``cur/`` with the Seen flag
(``:2,S``) so that a re-run does not read it again (a re-run over the same bytes changes nothing
anyway: hashes).  IMAP (`poll_imap`, stdlib `imaplib`): the folder's UNSEEN messages are fetched
without marking them (``BODY.PEEK[]``), handled, then flagged ``\\Seen`` -- and moved to
``processed_folder`` when one is given (COPY, ``\\Deleted``, EXPUNGE).

Trust: the ``From:`` address is as the receiving server delivered it.  Point the intake at a
mailbox whose server enforces SPF/DKIM/DMARC for the listed domains (or a distribution-list
address only HMCTS can post to); the sender check is a licence control, not authentication.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import fnmatch
import hashlib
import imaplib
import mailbox
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Iterable

import orjson

from ..governance.pseudonym import Keyring
from ..store import Archive
from . import gate
from .cath import DEFAULT_MAX_BYTES
from .errors import Rejected
from .pipeline import (FORMATS, SIDECAR, FileOutcome, IngestReport, check_options, content_hash, is_sidecar,
                       parse_file)

__all__ = ["intake_maildir", "poll_imap", "process_message", "sender_allowed", "mail_senders",
           "MessageOutcome", "MailReport"]


# ====================================================================== senders
def mail_senders(profile=None) -> list[str]:
    """The ``[intake] mail_senders`` patterns of the licence profile (default: the loaded one)."""
    if profile is None:
        from ..config import settings
        from ..governance.profile import load

        profile = load(home=settings().home)
    senders = profile.get("intake", "mail_senders", []) or []
    if not isinstance(senders, list) or not all(isinstance(s, str) for s in senders):
        raise ValueError("[intake] mail_senders must be a list of strings")
    return senders


def sender_allowed(address: str, patterns: Iterable[str]) -> bool:
    """Whether `address` matches one of `patterns` (case-insensitive):

    ``lists@court.example``  that address;   ``@court.example`` or ``court.example``  any address
    at that domain;   ``*.court.example`` or ``.court.example``  any address at a subdomain of it;
    anything else with ``*`` / ``?`` / ``[]``: a shell-style pattern over the whole address."""
    addr = (address or "").strip().lower()
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in addr):
        return False
    for raw in patterns:
        p = raw.strip().lower()
        if not p:
            continue
        if p.startswith("*.") or p.startswith("."):
            base = p.lstrip("*").lstrip(".")
            if domain.endswith("." + base):
                return True
        elif p.startswith("@"):
            if domain == p[1:]:
                return True
        elif "@" in p:
            if any(c in p for c in "*?[") and fnmatch.fnmatchcase(addr, p) or addr == p:
                return True
        elif any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(domain, p):
                return True
        elif domain == p:
            return True
    return False


# ====================================================================== outcomes
@dataclass
class MessageOutcome:
    ref: str                         # Maildir file name or IMAP UID
    message_id: str | None
    status: str                      # ingested | quarantined | no-lists | unreadable
    reason: str | None = None
    attachments: list[FileOutcome] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"ref": self.ref, "message_id": self.message_id, "status": self.status, "reason": self.reason,
                "attachments": [{"file": a.file, "status": a.status, "reason": a.reason, "json_path": a.json_path,
                                 "hearings": a.hearings} for a in self.attachments]}


@dataclass
class MailReport:
    messages: list[MessageOutcome] = field(default_factory=list)
    ingest: IngestReport = field(default_factory=IngestReport)   # every attachment, as `ingest` reports files

    def add(self, m: MessageOutcome) -> None:
        self.messages.append(m)
        for a in m.attachments:
            self.ingest.add(a)

    @property
    def quarantined(self) -> list[MessageOutcome]:
        return [m for m in self.messages if m.status == "quarantined"]

    @property
    def failed(self) -> bool:
        return bool(self.quarantined or self.ingest.rejected or any(m.status == "unreadable" for m in self.messages))

    def as_dict(self) -> dict:
        by: dict[str, int] = {}
        for m in self.messages:
            by[m.status] = by.get(m.status, 0) + 1
        return {"messages": len(self.messages), "by_status": by, "attachments": self.ingest.as_dict(),
                "quarantined": [{"ref": m.ref, "message_id": m.message_id, "reason": m.reason}
                                for m in self.quarantined],
                "detail": [m.as_dict() for m in self.messages]}


# ====================================================================== one message
def _addresses(msg, *names: str) -> list[str]:
    vals = []
    for n in names:
        vals += [str(v) for v in (msg.get_all(n) or [])]
    return [a for _, a in email.utils.getaddresses(vals) if a]


def _date(msg) -> str | None:
    raw = msg.get("Date")
    if not raw:
        return None
    try:
        d = email.utils.parsedate_to_datetime(str(raw))
    except (TypeError, ValueError, IndexError):
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _safe_name(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name
    return re.sub(r"[\x00-\x1f/]", "_", base).strip() or "attachment"


def _attachments(msg) -> list[tuple[str, bytes]]:
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name:
            continue
        data = part.get_payload(decode=True)
        if data is None:
            continue
        out.append((_safe_name(str(name)), data))
    return out


def process_message(archive: Archive, raw: bytes, *, keyring: Keyring, senders: list[str], ref: str,
                    list_type: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> MessageOutcome:
    """Check, ingest or quarantine one message (its raw RFC 5322 bytes).  Never raises for bad input."""
    msg_hash = hashlib.sha256(raw).hexdigest()
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        message_id = str(msg.get("Message-ID") or "").strip() or None
        from_ = _addresses(msg, "From")
        to = _addresses(msg, "To", "Cc")
        when = _date(msg)
        files = _attachments(msg)
    except Exception as e:  # the email package rarely raises; a defect in a header or part can
        reason = f"message cannot be read ({type(e).__name__})"
        archive.quarantine(source_name=f"mail:{ref}", reason=reason, content_hash=msg_hash)
        return MessageOutcome(ref, None, "unreadable", reason)
    mid = message_id or f"<no-message-id:{msg_hash[:16]}>"
    if not from_:
        reason = "message has no From address; not ingested"
    else:
        bad = [a for a in from_ if not sender_allowed(a, senders)]
        reason = (f"sender at {bad[0].rpartition('@')[2].lower() or 'an unknown domain'} is not listed in the "
                  "licence profile's [intake] mail_senders; message not ingested") if bad else None
    if reason:
        archive.quarantine(source_name=f"mail:{mid}", reason=reason, content_hash=msg_hash)
        return MessageOutcome(ref, message_id, "quarantined", reason)

    provenance = f"mail {mid} from {from_[0]} to {', '.join(to) or '-'} date {when or '-'}"
    by_name = dict(files)
    out = MessageOutcome(ref, message_id, "no-lists")
    for name, data in files:
        # by suffix, as a folder's files are: an attachment without one is not read as CaTH JSON as
        # a file named to `ingest` is (`pipeline.file_format`) -- nobody chose it as a list
        fmt = FORMATS.get(os.path.splitext(name)[1].lower())
        if fmt is None or is_sidecar(name):
            continue
        out.status = "ingested"
        out.attachments.append(_ingest_one(archive, name, data, by_name, keyring=keyring, mid=mid, fmt=fmt,
                                           provenance=provenance, list_type=list_type, max_bytes=max_bytes))
    if out.status == "no-lists":
        out.reason = "no list attachment (.json, .csv, .pdf, .xlsx)"
    return out


def _sidecar(name: str, by_name: dict[str, bytes]) -> dict:
    """The headers of attachment ``name`` from ``<stem>.meta.json`` (for ``<stem>.json``) or
    ``<name>.meta.json`` among ``by_name``: the name as it is, the suffixes in any case."""
    sidecars = {n[:-len(SIDECAR)]: n for n in by_name if is_sidecar(n)}      # (the name annotated -> the sidecar's)
    stem = name[:-len(".json")] if name.lower().endswith(".json") else None
    for cand in (sidecars.get(base) for base in ((stem,) if stem else ()) + (name,)):
        if cand is not None:
            try:
                meta = orjson.loads(by_name[cand])
            except orjson.JSONDecodeError as e:
                raise Rejected(f"sidecar {cand} is not valid JSON: {e}", None) from None
            if not isinstance(meta, dict):
                raise Rejected(f"sidecar {cand} must hold a JSON object of headers", None)
            return {str(k).lower(): v for k, v in meta.items()}
    return {}


def _ingest_one(archive: Archive, name: str, data: bytes, by_name: dict, *, keyring: Keyring, mid: str,
                fmt: str, provenance: str, list_type: str | None, max_bytes: int) -> FileOutcome:
    """One attachment through the normal path: parse, gate, store -- or quarantine."""
    source = f"mail:{mid}/{name}"
    h = content_hash(data)
    try:
        if len(data) > max_bytes:
            raise Rejected(f"attachment is {len(data)} bytes, over the {max_bytes}-byte limit", None)
        pub = archive.has_publication(h)
        if pub is not None:
            return FileOutcome(source, "duplicate", publication_id=pub)
        headers = _sidecar(name, by_name)
        given = headers.get("x-provenance") or headers.get("provenance")
        headers["x-provenance"] = provenance + (f"; x-provenance {given}" if given else "")
        headers.pop("provenance", None)
        parsed = parse_file(data, source_name=name, headers=headers, list_type=list_type, fmt=fmt,
                            max_bytes=max_bytes)
        parsed.meta.source_name = source
        parsed.meta.source_format = fmt
        report = gate.apply(parsed, keyring)        # complainants pseudonymised before any write
    except Rejected as e:
        archive.quarantine(source_name=source, reason=e.reason, json_path=e.json_path, content_hash=h)
        return FileOutcome(source, "rejected", reason=e.reason, json_path=e.json_path)
    except RecursionError:
        reason = "document nested too deeply"
        archive.quarantine(source_name=source, reason=reason, content_hash=h)
        return FileOutcome(source, "rejected", reason=reason)
    except Exception as e:  # a parser defect must not stop the intake, nor pass silently
        reason = f"internal parser error ({type(e).__name__}: {e})"
        archive.quarantine(source_name=source, reason=reason, content_hash=h)
        return FileOutcome(source, "rejected", reason=reason)
    try:
        res = archive.write(parsed, content_hash=h)
    except Exception as e:
        reason = f"store refused the document ({type(e).__name__}: {(str(e).splitlines() or [''])[0]})"
        archive.quarantine(source_name=source, reason=reason, content_hash=h)
        return FileOutcome(source, "rejected", reason=reason)
    return FileOutcome(source, res.status, hearings=res.hearings, publication_id=res.publication_id,
                       complainants=res.complainants,
                       unparsed_complainant_refs=getattr(report, "unparsed_total", 0))


def check_list_type(list_type: str | None) -> None:
    """`courtarchive ingest`'s check of ``--list-type``, the attachments' formats unknown: a list
    type every attachment would be rejected for was found out only message by message, each then
    marked Seen -- and never read again once the option was put right.  Rejected; `intake_cli`
    asks it before it opens the archive too."""
    if list_type is not None:
        check_options({"x-list-type": list_type}, None)


# ====================================================================== Maildir
def _flags(filename: str) -> tuple[str, str]:
    uniq, sep, info = filename.partition(":")
    return uniq, info[2:] if sep and info.startswith("2,") else ""


def intake_maildir(archive: Archive, path: str | Path, *, keyring: Keyring, senders: list[str] | None = None,
                   list_type: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                   reread: bool = False) -> MailReport:
    """Ingest the unread messages of the Maildir at `path` (see the module docstring).
    `senders`: the allowed sender patterns (default: the licence profile's).  `reread`: also
    messages already marked Seen (a re-run is idempotent by hash).  A `list_type` no attachment
    could take is Rejected before any message is read (`check_options`)."""
    check_list_type(list_type)
    archive.require_initialised()
    root = Path(path)
    try:
        mailbox.Maildir(str(root), factory=None, create=False)      # checks the folder is one
    except mailbox.NoSuchMailboxError:
        raise FileNotFoundError(f"no Maildir at {root}") from None
    if not all((root / d).is_dir() for d in ("new", "cur", "tmp")):
        raise FileNotFoundError(f"{root} is not a Maildir (needs new/, cur/ and tmp/)")
    senders = mail_senders() if senders is None else list(senders)
    report = MailReport()
    todo = []
    for sub in ("new", "cur"):
        for name in sorted(os.listdir(root / sub)):
            if name.startswith("."):
                continue
            _, flags = _flags(name)
            if sub == "cur" and "S" in flags and not reread:
                continue
            todo.append((sub, name))
    for sub, name in todo:
        f = root / sub / name
        try:
            raw = f.read_bytes()
        except OSError:
            continue                                  # taken by another reader meanwhile
        outcome = process_message(archive, raw, keyring=keyring, senders=senders, ref=name,
                                  list_type=list_type, max_bytes=max_bytes)
        report.add(outcome)
        uniq, flags = _flags(name)
        target = root / "cur" / f"{uniq}:2,{''.join(sorted(set(flags) | {'S'}))}"
        if target != f:
            try:
                os.rename(f, target)
            except OSError:
                pass
    return report


# ====================================================================== IMAP
def poll_imap(archive: Archive, host: str, user: str, password: str, *, keyring: Keyring,
              folder: str = "INBOX", port: int | None = None, ssl: bool = True, starttls: bool = False,
              senders: list[str] | None = None, processed_folder: str | None = None,
              list_type: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = 60.0) -> MailReport:
    """Ingest the UNSEEN messages of an IMAP folder (stdlib imaplib; see the module docstring).
    ``ssl``: IMAPS (port 993 by default); otherwise plain IMAP (port 143), upgraded with STARTTLS
    when ``starttls``.  Raises `imaplib.IMAP4.error` / OSError for connection or login failures,
    and Rejected, before connecting, for a `list_type` no attachment could take."""
    check_list_type(list_type)
    archive.require_initialised()
    senders = mail_senders() if senders is None else list(senders)
    report = MailReport()
    if ssl:
        conn = imaplib.IMAP4_SSL(host, port or 993, timeout=timeout)
    else:
        conn = imaplib.IMAP4(host, port or 143, timeout=timeout)
        if starttls:
            conn.starttls()
    try:
        conn.login(user, password)
        typ, _ = conn.select(_quote(folder))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot select folder {folder}")
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        if typ != "OK":
            raise imaplib.IMAP4.error("UID SEARCH failed")
        moved = False
        for uid in (data[0] or b"").split():
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and len(p) >= 2), None)
            if typ != "OK" or raw is None:
                continue
            report.add(process_message(archive, raw, keyring=keyring, senders=senders, ref=f"uid {uid.decode()}",
                                       list_type=list_type, max_bytes=max_bytes))
            conn.uid("STORE", uid, "+FLAGS", r"(\Seen)")
            if processed_folder:
                typ, _ = conn.uid("COPY", uid, _quote(processed_folder))
                if typ == "OK":
                    conn.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
                    moved = True
        if moved:
            conn.expunge()
        conn.close()
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return report


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
