"""store: the canonical model in SQL (SQLite embedded, PostgreSQL server). The only SQL code."""

from .archive import Archive, StoreError, WriteResult

__all__ = ["Archive", "StoreError", "WriteResult"]
