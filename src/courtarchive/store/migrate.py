"""Alembic, driven programmatically (no alembic.ini needed by users).

`upgrade(engine)` brings a database to the newest schema; `check(engine)` returns the
differences between the migrated schema and the model (empty when they agree).
Developers: after changing the model, `python -m courtarchive.store.migrate revision "msg"`
autogenerates the next migration from the model; review it, then commit it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from .tables import metadata

# Alembic is imported where a migration runs or the model is compared, not by every command that
# opens an archive (~0.17 s per CLI start): `current` reads the version table with plain SQL.
VERSION_TABLE = "alembic_version"

HERE = Path(__file__).parent

#: engine-specific objects migrations create by hand because the model cannot declare them
#: (SQLite FTS5 virtual tables and their shadow tables, PostgreSQL pg_trgm/GIN indexes: 0006):
#: all named ``fts_...``; the model comparison and autogenerate leave them alone
UNMODELLED_PREFIX = "fts_"


def include_name(name, type_, parent_names) -> bool:
    return not (name or "").startswith(UNMODELLED_PREFIX)


def alembic_config(engine: sa.Engine | None = None, connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    from alembic import command

    from .engine import writing

    # (a writer from its start: it reads the recorded revision, then migrates -- on SQLite a reader's
    # transaction could not write once another writer had committed since; `engine.writing`)
    with writing(engine) as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def revisions() -> frozenset[str]:
    """The revision ids the shipped migrations define (``versions/NNNN_*.py`` declares revision
    ``NNNN``), read from the file names: no Alembic import."""
    return frozenset(f.name.split("_", 1)[0] for f in (HERE / "migrations" / "versions").glob("[0-9]*_*.py"))


def current(engine: sa.Engine) -> str | None:
    """The archive's schema revision (None: not initialised), as Alembic records it.  A version
    table recording a revision courtarchive does not define (another application's Alembic
    history in the same schema), or several, is refused as a DatabaseError naming it."""
    from .engine import DatabaseError, describe

    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        heads = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    foreign = sorted(set(heads) - revisions())
    if len(heads) > 1 or foreign:
        raise DatabaseError(f"the database {describe(engine.url)} is not a courtarchive archive: its {VERSION_TABLE} "
                            f"table records revision(s) {', '.join(map(repr, sorted(heads)))}"
                            f"{' unknown to courtarchive' if foreign else ''} (another application's -- or a "
                            "newer courtarchive's: upgrade this one): otherwise give "
                            "courtarchive a schema of its own (PostgreSQL: ?options=-csearch_path%3DNAME, "
                            "after CREATE SCHEMA NAME) or a database of its own")
    return heads[0] if heads else None


def head() -> str:
    """The newest revision the shipped migrations define."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def check(engine: sa.Engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import warnings

    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect an index on an expression (0017's ix_case_case_number_key): both sides
        # skip it there, with a warning each; PostgreSQL compares it
        warnings.filterwarnings("ignore", message=r".*(reflection of expression-based index|expression-based index)")
        mc = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return compare_metadata(mc, metadata)


def main(argv: list[str]) -> None:  # developer tool
    from .engine import make_engine

    if len(argv) >= 2 and argv[0] == "revision":
        url = "sqlite:////tmp/courtarchive-autogen.db"
        Path("/tmp/courtarchive-autogen.db").unlink(missing_ok=True)
        engine = make_engine(url)
        upgrade(engine)
        from alembic import command

        command.revision(alembic_config(engine), message=argv[1], autogenerate=True)
    else:
        raise SystemExit("usage: python -m courtarchive.store.migrate revision MESSAGE")


if __name__ == "__main__":
    main(sys.argv[1:])
