"""Configuration: one place, environment first, then defaults.

COURTARCHIVE_HOME      working folder (default ./courtarchive-data): database, key, exports
COURTARCHIVE_DB        SQLAlchemy URL; default sqlite:///<home>/courtarchive.db
                       PostgreSQL: postgresql+psycopg://user@host:5432/dbname
COURTARCHIVE_KEY       pseudonym key as hex (overrides the key file); never commit it
COURTARCHIVE_KEY_FILE  pseudonym key file (default <home>/keys/pseudonym.key, mode 0600)
COURTARCHIVE_MAX_FILE_MB  largest input file accepted (default 200)
COURTARCHIVE_SMTP_HOST alert digests: SMTP server; unset -> digests are queued, not sent
COURTARCHIVE_SMTP_PORT SMTP port (default 25)
COURTARCHIVE_SMTP_FROM sender address of digests (default courtarchive@localhost)
COURTARCHIVE_SMTP_USER / COURTARCHIVE_SMTP_PASSWORD  optional SMTP login
COURTARCHIVE_SMTP_STARTTLS  1 -> STARTTLS before login (default 0; port 465 means implicit TLS)
COURTARCHIVE_BASE_URL  public URL of the web portal, for links in mails (unsubscribe, cases);
                       default http://localhost:8000
COURTARCHIVE_USER      the account the CLI acts as (`case`, `export`, `analyse`, `alerts`);
                       default: the operating-system user name (an unknown account is `public`)
COURTARCHIVE_SQLITE_MMAP  bytes of a SQLite archive read through a memory map (default 2 GiB,
                       SQLite's cap; 0: off)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    key_hex: str | None
    key_file: Path
    max_file_bytes: int
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "courtarchive@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    base_url: str = "http://localhost:8000"
    user: str | None = None

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        home = Path(overrides.pop("home", None) or env.get("COURTARCHIVE_HOME") or "courtarchive-data")
        db_url = overrides.pop("db_url", None) or env.get("COURTARCHIVE_DB") or f"sqlite:///{home / 'courtarchive.db'}"
        key_file = Path(overrides.pop("key_file", None) or env.get("COURTARCHIVE_KEY_FILE") or home / "keys" / "pseudonym.key")
        key_hex = overrides.pop("key_hex", None) or env.get("COURTARCHIVE_KEY")
        raw_mb = overrides.pop("max_file_mb", None) or env.get("COURTARCHIVE_MAX_FILE_MB") or 200
        try:
            max_mb = float(raw_mb)
            if not 1 <= max_mb * 1024 * 1024 < float("inf"):
                raise ValueError
        except ValueError:
            raise ConfigError(f"COURTARCHIVE_MAX_FILE_MB must be a positive number of megabytes, not {raw_mb!r}") from None
        smtp_host = overrides.pop("smtp_host", None) or env.get("COURTARCHIVE_SMTP_HOST") or None
        port = overrides.pop("smtp_port", None) or env.get("COURTARCHIVE_SMTP_PORT") or 25
        try:
            smtp_port = int(port)
        except ValueError:
            raise ConfigError(f"COURTARCHIVE_SMTP_PORT: expected a port number, got {port!r}") from None
        smtp_from = overrides.pop("smtp_from", None) or env.get("COURTARCHIVE_SMTP_FROM") or "courtarchive@localhost"
        smtp_user = overrides.pop("smtp_user", None) or env.get("COURTARCHIVE_SMTP_USER") or None
        smtp_password = overrides.pop("smtp_password", None) or env.get("COURTARCHIVE_SMTP_PASSWORD") or None
        starttls = overrides.pop("smtp_starttls", None)
        if starttls is None:
            starttls = (env.get("COURTARCHIVE_SMTP_STARTTLS") or "0").strip().lower() in ("1", "true", "yes", "on")
        base_url = (overrides.pop("base_url", None) or env.get("COURTARCHIVE_BASE_URL")
                    or "http://localhost:8000").rstrip("/")
        user = overrides.pop("user", None) or env.get("COURTARCHIVE_USER") or None
        if overrides:
            raise TypeError(f"unknown settings: {sorted(overrides)}")
        return cls(user=user, home=home, db_url=db_url, key_hex=key_hex, key_file=key_file,
                   max_file_bytes=int(max_mb * 1024 * 1024), smtp_host=smtp_host, smtp_port=smtp_port,
                   smtp_from=smtp_from, smtp_user=smtp_user, smtp_password=smtp_password,
                   smtp_starttls=bool(starttls), base_url=base_url)


class ConfigError(ValueError):
    """A setting (an environment variable) that cannot be used: the message names it.  The command
    line prints it as one line (exit code 2)."""


def settings(**overrides) -> Settings:
    return Settings.from_env(**overrides)


#: bytes of the database file SQLite reads through a memory map (it caps this at its compile-time
#: maximum, 2 GiB here); COURTARCHIVE_SQLITE_MMAP=0 turns the map off
SQLITE_MMAP_DEFAULT = 2**31


def sqlite_mmap_size() -> int:
    """``COURTARCHIVE_SQLITE_MMAP`` (bytes; see the module docstring), checked."""
    v = os.environ.get("COURTARCHIVE_SQLITE_MMAP", "").strip()
    if not v:
        return SQLITE_MMAP_DEFAULT
    try:
        n = int(v)
    except ValueError:
        raise ConfigError(f"COURTARCHIVE_SQLITE_MMAP must be a number of bytes (0: off), not {v!r}") from None
    if n < 0:
        raise ConfigError(f"COURTARCHIVE_SQLITE_MMAP must be 0 or more, not {v!r}")
    return n


def spark_conf(app: str) -> dict[str, str]:
    """Spark settings shared by linkage and analysis sessions (``spark.*`` keys for the builder).

    ``COURTARCHIVE_SPARK_DRIVER_MEMORY`` (default ``6g``: in ``local[N]`` mode the driver is also
    the executor; 3g ran out of heap linking 145k mentions) and ``COURTARCHIVE_SPARK_SHUFFLE_PARTITIONS``
    (default 64; adaptive execution coalesces small shuffles, so small data is not slowed by it)."""
    import os

    from splink.internals.spark.jar_location import similarity_jar_location

    return {
        "spark.app.name": app,
        # Splink's similarity functions (JARO_WINKLER ...): in every session, as a process has one
        # SparkContext and a jar cannot be added to it once started -- a link run after an analysis
        # in the same process got the analysis's session, without them
        "spark.jars": similarity_jar_location(),
        "spark.driver.memory": os.environ.get("COURTARCHIVE_SPARK_DRIVER_MEMORY", "6g"),
        "spark.sql.shuffle.partitions": os.environ.get("COURTARCHIVE_SPARK_SHUFFLE_PARTITIONS", "64"),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.ui.enabled": "false",
        # the stage progress bars of Spark's console flood a command's stderr (and CI logs); the
        # command's own progress is reported by rich
        "spark.ui.showConsoleProgress": "false",
    }


def duckdb_connect(database: str = ":memory:"):
    """A DuckDB connection for linkage and analysis (in memory unless ``database`` names a file),
    with bounded memory.

    DuckDB's own default (80 % of RAM) leaves too little for the Python side of a large link run
    (the mentions, the scored pairs); ``COURTARCHIVE_DUCKDB_MEMORY`` (default: half of the
    machine's RAM, e.g. ``12GB``) caps it, and past the cap DuckDB spills to
    ``COURTARCHIVE_DUCKDB_TEMP`` (default: a folder under the system temporary directory) instead
    of failing."""
    import os

    import duckdb

    mem = os.environ.get("COURTARCHIVE_DUCKDB_MEMORY")
    if not mem:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            mem = f"{max(1, total // 2 // 2**30)}GB"
        except (ValueError, OSError, AttributeError):
            mem = None
    con = duckdb.connect(database)
    if mem:
        con.execute(f"SET memory_limit = '{mem}'")
    con.execute(f"SET temp_directory = '{_duckdb_temp()}'")
    return con


def _duckdb_temp() -> str:
    """Where DuckDB spills and keeps scratch databases: ``COURTARCHIVE_DUCKDB_TEMP``, else a folder
    under the system temporary directory."""
    import os
    import tempfile

    return os.environ.get("COURTARCHIVE_DUCKDB_TEMP") or os.path.join(tempfile.gettempdir(), "courtarchive-duckdb")


def duckdb_scratch():
    """A DuckDB connection on a fresh database *file* in ``COURTARCHIVE_DUCKDB_TEMP`` (see
    `duckdb_connect`), deleted when the connection is garbage-collected or the process exits.

    For work too large for memory (linking millions of mentions): the tables Splink builds live
    in the file, compressed, and only the working set is held in memory; an in-memory database
    keeps every table in RAM."""
    import os
    import tempfile
    import weakref

    tmp = _duckdb_temp()
    os.makedirs(tmp, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="scratch-", suffix=".duckdb", dir=tmp)
    os.close(fd)
    os.unlink(path)                    # DuckDB creates the file itself
    con = duckdb_connect(path)

    def _remove(path=path):
        for p in (path, path + ".wal"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
    weakref.finalize(con, _remove)
    return con


def igraph():
    """The ``igraph`` module, imported without its matplotlib drawing back end.

    ``import igraph`` imports ``matplotlib.pyplot`` when matplotlib is installed (lifelines brings
    it): 0.28 of the 0.51 s the import takes here, on every CLI start and server start that builds
    a network -- a twentieth of a 25k-case ``courtarchive analyse``.  courtarchive lays out and
    draws networks itself (SVG), never with igraph's plotting, so matplotlib is hidden from that
    one import (igraph then keeps a placeholder for it) and visible again right after; a
    matplotlib imported before is left alone.  Under the import lock, so that no other thread's
    import sees it hidden."""
    import sys

    mod = sys.modules.get("igraph")
    if mod is not None:
        return mod
    import _imp

    _imp.acquire_lock()
    try:
        hide = "matplotlib" not in sys.modules
        if hide:
            sys.modules["matplotlib"] = None          # (an ImportError for this import only)
        try:
            import igraph as mod
        finally:
            if hide and sys.modules.get("matplotlib", 0) is None:
                del sys.modules["matplotlib"]
    finally:
        _imp.release_lock()
    return mod


def private_dir(path: str | os.PathLike) -> Path:
    """``path`` as a folder only its owner may enter (0700; made with its parents when missing): the
    archive's own caches of personal data -- disclosed exports, screening candidates -- are read by
    the service that wrote them and nobody else on the machine (the key file is 0600 likewise)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    os.chmod(p, 0o700)      # (mkdir's mode is filtered by the umask; an existing folder is tightened)
    return p


def private_file(path: str | os.PathLike) -> int:
    """Open ``path`` for writing (created or truncated), mode 0600 whatever the umask: a file
    descriptor (``open(fd, "wb")``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def write_files(out: str | os.PathLike, files: dict[str, bytes], *, private: bool = False) -> list[Path]:
    """Write ``files`` (name -> bytes) into the folder ``out`` all or nothing: each under a temporary
    name first, then renamed into place; on an error the temporary files go, and ``out`` too when
    this call made it (empty).  ``private``: a folder made here is 0700 (`private_dir`; an existing
    one is left as it is) and the files 0600 (`private_file`).  Raises OSError."""
    out = Path(out)
    made = not out.exists()
    tmps: list[Path] = []
    try:
        if private and made:
            private_dir(out)
        else:
            out.mkdir(parents=True, exist_ok=True)
        for name in files:
            tmps.append(out / f".{name}.{os.getpid()}.tmp")
            fd = (private_file(tmps[-1]) if private
                  else os.open(tmps[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
            with open(fd, "wb") as fh:
                fh.write(files[name])
                fh.flush()
                os.fsync(fh.fileno())
        for name, tmp in zip(files, tmps):
            os.replace(tmp, out / name)
    except OSError:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        if made:
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    return [out / name for name in files]
