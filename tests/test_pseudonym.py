"""Keys, tokens, name normalisation and keyed Bloom encodings (governance.pseudonym)."""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
import stat
from pathlib import Path

import pytest

from courtarchive.config import settings
from courtarchive.governance.pseudonym import (
    Keyring, KeyringError, dice, key_id_of, load_name_variants, normalise_initials, normalise_name, qgrams,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


# ----------------------------------------------------------------------------- tokens
def test_token_is_deterministic_per_key_and_differs_between_keys():
    a1, a2, b = Keyring(KEY_A), Keyring(KEY_A), Keyring(KEY_B)
    t = a1.token("complainant", "jane smith")
    assert t == a2.token("complainant", "jane smith")
    assert len(t) == 32 and int(t, 16) >= 0
    assert t != b.token("complainant", "jane smith")
    assert t != a1.token("person", "jane smith")            # domains are separated
    assert t != a1.token("complainant", "jane smyth")


def test_token_is_hmac_sha256_of_kind_and_identity():
    import hmac

    expect = hmac.new(KEY_A, b"complainant\x1fjane smith", hashlib.sha256).hexdigest()[:32]
    assert Keyring(KEY_A).token("complainant", "jane smith") == expect
    with pytest.raises(ValueError):
        Keyring(KEY_A).token("a\x1fb", "x")


def test_key_id():
    assert Keyring(KEY_A).key_id == hashlib.sha256(b"courtarchive-key-id" + KEY_A).hexdigest()[:8]
    assert key_id_of(KEY_A) != key_id_of(KEY_B)


def test_key_must_be_32_bytes():
    with pytest.raises(KeyringError):
        Keyring(b"short")


def test_repr_and_pickle_keep_the_key_out_of_sight():
    k = Keyring(KEY_A, old_keys=[KEY_B])
    assert KEY_A.hex() not in repr(k) and k.key_id in repr(k)
    k2 = pickle.loads(pickle.dumps(k))
    assert k2.token("person", "x") == k.token("person", "x") and k2.old_keys == (KEY_B,)


def test_old_keys_for_rotation():
    old, new = Keyring(KEY_A), Keyring(KEY_B, old_keys=[KEY_A])
    t_old = old.token("complainant", "jane smith")
    assert new.token("complainant", "jane smith", key_id=old.key_id) == t_old
    assert new.tokens_all("complainant", "jane smith") == {
        new.key_id: new.token("complainant", "jane smith"), old.key_id: t_old}
    with pytest.raises(KeyringError):
        new.token("complainant", "x", key_id="00000000")


# ----------------------------------------------------------------------------- key files and settings
def test_create_writes_0600_in_0700_folder_and_refuses_overwrite(tmp_path):
    path = tmp_path / "home" / "keys" / "pseudonym.key"
    k = Keyring.create(path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert bytes.fromhex(path.read_text().strip()) == k.key
    before = path.read_bytes()
    with pytest.raises(KeyringError, match="refusing to overwrite"):
        Keyring.create(path)
    assert path.read_bytes() == before


def test_create_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "k" / "pseudonym.key"
        Keyring.create(path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_from_settings_key_file_env_and_missing(tmp_path):
    key_file = tmp_path / "keys" / "pseudonym.key"
    s = settings(home=tmp_path, key_file=key_file)
    with pytest.raises(KeyringError, match="courtarchive init"):
        Keyring.from_settings(s)
    created = Keyring.from_settings(s, create=True)
    assert key_file.exists()
    assert Keyring.from_settings(s).key == created.key
    env = Keyring.from_settings(settings(home=tmp_path, key_file=key_file, key_hex=KEY_B.hex()))
    assert env.key == KEY_B                                  # COURTARCHIVE_KEY wins over the file
    with pytest.raises(KeyringError, match="COURTARCHIVE_KEY"):
        Keyring.from_settings(settings(home=tmp_path, key_file=key_file, key_hex="abcd"))


def test_from_settings_reads_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY_A.hex())
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path))
    assert Keyring.from_settings(settings()).key == KEY_A


def test_key_file_readable_by_others_is_refused(tmp_path):
    key_file = tmp_path / "pseudonym.key"
    Keyring.create(key_file)
    key_file.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.from_settings(settings(home=tmp_path, key_file=key_file))


def test_rotate_retires_the_old_key(tmp_path):
    key_file = tmp_path / "keys" / "pseudonym.key"
    first = Keyring.create(key_file)
    rotated = Keyring.rotate(key_file)
    assert rotated.key != first.key and rotated.old_keys == (first.key,)
    assert (key_file.parent / "retired" / f"{first.key_id}.key").exists()
    loaded = Keyring.from_settings(settings(home=tmp_path, key_file=key_file))
    assert loaded.key == rotated.key and loaded.old_keys == (first.key,)
    assert loaded.token("complainant", "x", key_id=first.key_id) == first.token("complainant", "x")


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("a, b", [
    ("Mohammed SMITH", "Muhammad Smith"),
    ("Mohamed SMITH", "SMITH, Mohammad"),
    ("Jane SMITH", "SMITH, Jane"),
    ("Jane Smith", "SMITH JANE"),
    ("Mrs Jane Smith", "jane smith"),
    ("SMITH, Mrs Jane", "Jane Smith"),
    ("Siobhán O'NEILL", "Siobhan ONeill"),
    ("Siobhan O\u2019Neill", "siobhan o'neill"),
    ("Mohammed AL-HASSAN", "Muhammad Al Hassan"),
    ("Ana de la Cruz", "Ana DELACRUZ"),
    ("Steven McDonald", "Stephen Mc Donald"),
    ("Katherine Jones", "Catherine JONES"),
    ("Bob Brown", "Robert Brown"),
    ("Bill Wilson", "William Wilson"),
    ("Jake Taylor", "Jacob Taylor"),
    ("Jon Ward", "John Ward"),
    ("Łukasz Nowak", "Lukasz NOWAK"),
    ("Zoë  Smith", "Zoe Smith"),
    ("LORD-KNOWLES, Mrs Jane", "Jane Lord-Knowles"),   # a hyphenated "title" is part of the name
    ("Lord Jane KNOWLES", "Jane Knowles"),             # ... a title of its own is not
])
def test_variants_normalise_alike(a, b):
    assert normalise_name(a) == normalise_name(b)
    k = Keyring(KEY_A)
    assert k.token("complainant", normalise_name(a)) == k.token("complainant", normalise_name(b))


@pytest.mark.parametrize("a, b", [
    ("Jonathan Ward", "John Ward"),          # separate names, not variants
    ("Jane Smith", "Jane Smyth"),
    ("Alex Brown", "Alexander Brown"),       # ambiguous diminutives are not mapped
    ("Jane Mary Smith", "Jane Smith"),       # middle names count (the Bloom filter bridges them)
    ("LORD-KNOWLES, Jane", "Jane KNOWLES"),  # "Lord-" was dropped as a title: one token for both
])
def test_distinct_names_stay_distinct(a, b):
    assert normalise_name(a) != normalise_name(b)


def test_initials_keep_their_order():
    assert normalise_initials("J.S.") == normalise_initials("j s") == normalise_initials("JS") == "JS"
    assert normalise_initials("S.J.") != normalise_initials("J.S.")


def test_variant_table_is_sound():
    table = load_name_variants()
    assert len(table) >= 150
    assert set(table.values()).isdisjoint(table)              # no chains
    assert table["muhammad"] == table["mohamed"] == "mohammed"
    assert table["steven"] == "stephen" and table["kathryn"] == table["katherine"] == "catherine"
    assert "alex" not in table and "jonathan" not in table and "jack" not in table
    path = Path(__file__).resolve().parents[1] / "src" / "courtarchive" / "data" / "name_variants.csv"
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["canonical", "variant"] and len(rows) - 1 == len(table)


def test_variant_table_rejects_chains_and_duplicates(tmp_path):
    bad = tmp_path / "v.csv"
    bad.write_text("canonical,variant\njohn,jon\njon,johnny\n")
    with pytest.raises(ValueError, match="canonical forms also listed"):
        load_name_variants.__wrapped__(bad)
    bad.write_text("canonical,variant\njohn,jon\njonathan,jon\n")
    with pytest.raises(ValueError, match="listed twice"):
        load_name_variants.__wrapped__(bad)


# ----------------------------------------------------------------------------- Bloom encodings
def test_qgrams_are_padded_per_word():
    assert qgrams("ann lee") == {"_a", "an", "nn", "n_", "_l", "le", "ee", "e_"}


def test_bloom_shape_and_determinism():
    k = Keyring(KEY_A)
    f = k.bloom("Jane Smith")
    assert isinstance(f, bytes) and len(f) == 128
    assert f == k.bloom("SMITH, Jane") == Keyring(KEY_A).bloom("jane smith")
    assert len(k.bloom("Jane Smith", bits=512, k=10)) == 64
    with pytest.raises(ValueError):
        k.bloom("x", bits=100)


def test_bloom_dice_tolerates_typos_and_separates_names():
    k = Keyring(KEY_A)
    assert dice(k.bloom("Jane Smith"), k.bloom("Jane Smyth")) >= 0.8
    assert dice(k.bloom("Katherine Johnson"), k.bloom("Katherine Jonson")) >= 0.8
    assert dice(k.bloom("Jane Smith"), k.bloom("Jane Mary Smith")) >= 0.8
    assert dice(k.bloom("Mohammed Khan"), k.bloom("Muhammad KHAN")) == 1.0
    assert dice(k.bloom("Jane Smith"), k.bloom("Mohammed Khan")) < 0.45
    assert dice(k.bloom("Jane Smith"), k.bloom("Peter Brown")) < 0.45


def test_bloom_is_keyed():
    """Without the key the filter of a guessed name cannot be built: another key's filter of the
    same name looks like a different name."""
    a, b = Keyring(KEY_A), Keyring(KEY_B)
    assert a.bloom("Jane Smith") != b.bloom("Jane Smith")
    assert dice(a.bloom("Jane Smith"), b.bloom("Jane Smith")) < 0.45


def test_dice_edges():
    assert dice(b"\x00" * 4, b"\x00" * 4) == 0.0
    assert dice(b"\xff", b"\xff") == 1.0
    with pytest.raises(ValueError):
        dice(b"\x00", b"\x00\x00")
