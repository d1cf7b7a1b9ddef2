"""SQLAlchemy Core tables, derived from the model declaration (never written by hand).

The store's own housekeeping tables (`id_sequence`) are declared here too: they are private to
the store and no other stage reads them.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..model.declaration import ENTITIES, Field

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

_TYPES = {
    "str": lambda f: sa.String(f.length) if f.length else sa.Text(),
    "text": lambda f: sa.Text(),
    "int": lambda f: sa.Integer(),
    "bigint": lambda f: sa.BigInteger(),
    "float": lambda f: sa.Float(),
    "bool": lambda f: sa.Boolean(),
    "date": lambda f: sa.Date(),
    "datetime": lambda f: sa.DateTime(),
    "bytes": lambda f: sa.LargeBinary(),
    "json": lambda f: sa.JSON(),
}


def _column(f: Field) -> sa.Column:
    args: list = [f.name, _TYPES[f.kind](f)]
    if f.ref and f.name != "id":
        # superseded_by points back at publication: keep it a plain FK (no cascade)
        args.append(sa.ForeignKey(f"{f.ref}.id"))
    kw = dict(nullable=f.nullable, comment=f.doc or None)
    if f.name == "id":
        kw.update(primary_key=True, autoincrement=False)
    if f.unique:
        kw["unique"] = True
    if f.index and not f.unique:
        kw["index"] = True
    return sa.Column(*args, **kw)


def _table(entity) -> sa.Table:
    t = sa.Table(entity.name, metadata, *(_column(f) for f in entity.columns), comment=entity.doc)
    for cols in entity.indexes:
        name = f"ix_{entity.name}_{'_'.join(cols)}"
        if len(name) > 63:          # (PostgreSQL's identifier limit: a wide covering index)
            name = f"ix_{entity.name}_{cols[0]}_{len(cols)}cols"
        sa.Index(name, *(t.c[c] for c in cols))
    for cols in entity.uniques:
        sa.UniqueConstraint(*(t.c[c] for c in cols))
    return t


TABLES: dict[str, sa.Table] = {name: _table(e) for name, e in ENTITIES.items()}

# a case number as searches read it (`util.case_number_key_sql`: no spaces, tabs or line breaks,
# upper case) -- an expression, which the declaration's indexes (columns only) cannot name; 0017
_cn = TABLES["case"].c.case_number
for _ch in (" ", "\t", "\n", "\r"):
    _cn = sa.func.replace(_cn, _ch, "")
sa.Index("ix_case_case_number_key", sa.func.upper(_cn))
del _cn, _ch

#: store-private: blocks of ids are handed out from here inside the writing transaction,
#: so that bulk writes (executemany / COPY) need no RETURNING round trips
id_sequence = sa.Table(
    "id_sequence", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("next_id", sa.BigInteger, nullable=False),
)

#: store-private: what a bulk load (`store.bulk`) has taken off the bulk tables to put back when it
#: ends -- each secondary index and (PostgreSQL) foreign key as its database defined it, one row
#: each, dropped and recorded in one transaction, restored and deleted in one.  Rows left by a bulk
#: load that died are restored by the next ingest or `init`.
bulk_load = sa.Table(
    "bulk_load", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("table_name", sa.String(64), nullable=False),
    sa.Column("ddl", sa.Text, nullable=False),
    sa.Column("dropped_at", sa.DateTime, nullable=False),
)


def table(name: str) -> sa.Table:
    return TABLES[name]
