"""Configuration: one place, environment first, then defaults.

COURTARCHIVE_HOME      working folder (default ./courtarchive-data): database, key, exports
COURTARCHIVE_DB        SQLAlchemy URL; default sqlite:///<home>/courtarchive.db
                       PostgreSQL: postgresql+psycopg://user@host:5432/dbname
COURTARCHIVE_KEY       pseudonym key as hex (overrides the key file); never commit it
COURTARCHIVE_KEY_FILE  pseudonym key file (default <home>/keys/pseudonym.key, mode 0600)
COURTARCHIVE_MAX_FILE_MB  largest input file accepted (default 200)
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

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        home = Path(overrides.pop("home", None) or env.get("COURTARCHIVE_HOME") or "courtarchive-data")
        db_url = overrides.pop("db_url", None) or env.get("COURTARCHIVE_DB") or f"sqlite:///{home / 'courtarchive.db'}"
        key_file = Path(overrides.pop("key_file", None) or env.get("COURTARCHIVE_KEY_FILE") or home / "keys" / "pseudonym.key")
        key_hex = overrides.pop("key_hex", None) or env.get("COURTARCHIVE_KEY")
        max_mb = float(overrides.pop("max_file_mb", None) or env.get("COURTARCHIVE_MAX_FILE_MB") or 200)
        if overrides:
            raise TypeError(f"unknown settings: {sorted(overrides)}")
        return cls(home=home, db_url=db_url, key_hex=key_hex, key_file=key_file,
                   max_file_bytes=int(max_mb * 1024 * 1024))


def settings(**overrides) -> Settings:
    return Settings.from_env(**overrides)
