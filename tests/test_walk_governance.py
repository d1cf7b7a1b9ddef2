"""Defects found walking the governance commands and bulk name screening as a newsroom's
compliance officer would (README "Bulk name screening", "Configuration"; docs/governance.md): the
real command line, in a process of its own (`serve.cli.main` is where a bad setting becomes one
line)."""

from __future__ import annotations

import os

import pytest

from test_walk_ingest import _cli


@pytest.fixture
def cli_home(tmp_path):
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COLUMNS="250")
    for k in ("COURTARCHIVE_DB", "COURTARCHIVE_KEY", "COURTARCHIVE_KEY_FILE", "COURTARCHIVE_PROFILE",
              "COURTARCHIVE_SQLITE_MMAP"):
        env.pop(k, None)
    r = _cli(["init"], env)
    assert r.returncode == 0, r.stderr
    (tmp_path / "names.csv").write_text("name\nZebedee QUIXLEY\n", "utf-8")
    return env


_BAD = [("COURTARCHIVE_KEY", "zz", "COURTARCHIVE_KEY: not a pseudonym key"),
        ("COURTARCHIVE_KEY_FILE", "/nonexistent/pseudonym.key", "no pseudonym key"),
        ("COURTARCHIVE_PROFILE", "/nonexistent/profile.toml", "cannot read the licence profile /nonexistent/profile.toml"),
        ("COURTARCHIVE_SQLITE_MMAP", "lots", "COURTARCHIVE_SQLITE_MMAP must be a number of bytes")]


@pytest.mark.parametrize("var, value, says, command", [
    *((v, x, s, ["expire", "--dry-run"]) for v, x, s in _BAD),
    *((v, x, s, ["screen", "{tmp}/names.csv", "--as", "desk"]) for v, x, s in _BAD),
    *((v, x, s, ["rights", "find", "--name", "Zebedee Quixley"]) for v, x, s in _BAD if v != "COURTARCHIVE_PROFILE"),
])
def test_a_bad_key_profile_or_mmap_setting_is_one_line_exit_2(cli_home, tmp_path, var, value, says, command):
    """The settings of README "Configuration": a malformed COURTARCHIVE_KEY, a missing key file
    (KeyringError), a COURTARCHIVE_PROFILE that does not exist (FileNotFoundError from `screen`,
    `export` ...) and COURTARCHIVE_SQLITE_MMAP=lots (ValueError) were Python tracebacks, exit 1."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    r = _cli(args, dict(cli_home, **{var: value}))
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 2 and says in r.stderr, (r.returncode, r.stderr)
