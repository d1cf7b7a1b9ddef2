"""Parser + intake-gate outputs, digested per file: proof that a speed-up changed nothing.

    uv run python bench/ingest_equivalence.py record OUT.json PATH...    # digests of the code as it is
    uv run python bench/ingest_equivalence.py check  REF.json PATH...    # compare; exit 1 on a difference

`check` runs the gate with its memos on (`gate.apply(..., memo=True)`, as `ingest.pipeline`
does), so the comparison also covers what is carried from one file to the next.

For every input file (`ingest.pipeline.iter_input_files`: CaTH JSON, CSV, PDF, Excel) the digest
covers: the parsed list as `msgspec.json` bytes *before* the gate (canonical records, warnings),
the list after `gate.apply` with a fixed keyring (tokens, Bloom encodings, scrubbed wording and
free text, complainant records) and the gate's report -- or, for a file the parser or the gate
refuses, the rejection's reason and JSON path (or the exception type and message).  The digests
are keyed by the file's path relative to the PATH it was found under, so a corpus can be
regenerated elsewhere (`courtarchive generate` is byte-deterministic).

`tests/test_ingest_equivalence.py` checks the shipped CaTH examples and a small generated corpus
against `tests/ingest_equivalence.json`, recorded with the code before the CPU work of
bench/RESULTS.md ("Ingest CPU per entry").
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import msgspec

from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate, pipeline
from courtarchive.ingest.errors import Rejected

KEY = bytes(range(32))


def outcome(f: Path, keyring: Keyring, memo: bool = False) -> bytes:
    """Everything the parser and gate make of one file, as bytes (deterministic)."""
    data = f.read_bytes()
    out = []
    try:
        headers = pipeline.read_sidecar(f)
        fmt = pipeline.FORMATS.get(f.suffix.lower(), "cath-json")
        parsed = pipeline.parse_file(data, source_name=f.name, headers=headers, list_type=None, fmt=fmt,
                                     max_bytes=1 << 28)
        out.append(b"parsed:" + msgspec.json.encode(parsed))
        report = gate.apply(parsed, keyring, memo=True) if memo else gate.apply(parsed, keyring)
        out.append(b"gated:" + msgspec.json.encode(parsed))
        out.append(b"report:" + json.dumps(report.as_dict(), sort_keys=True).encode())
    except Rejected as e:
        out.append(f"rejected:{e.reason!r}:{e.json_path!r}".encode())
    except Exception as e:  # noqa: BLE001 -- a defect's type and message are part of the behaviour too
        out.append(f"error:{type(e).__name__}:{e}".encode())
    return b"\n".join(out)


def digests(paths: list[Path], memo: bool = False) -> dict[str, str]:
    """``memo=True``: the gate as a bulk ingest runs it (memos kept from file to file)."""
    keyring = Keyring(KEY)
    res = {}
    try:
        for root in paths:
            for f in pipeline.iter_input_files([root]):
                rel = f.relative_to(root).as_posix() if root.is_dir() else f.name
                res[f"{root.name}/{rel}"] = hashlib.sha256(outcome(f, keyring, memo)).hexdigest()
    finally:
        if memo:
            gate.forget()
    return res


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("record", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, ref, paths = argv[0], Path(argv[1]), [Path(p) for p in argv[2:]]
    memo = mode == "check" and hasattr(gate, "forget")
    got = digests(paths, memo=memo)
    if mode == "record":
        old = json.loads(ref.read_text()) if ref.exists() else {}
        old.update(got)
        ref.write_text(json.dumps(old, indent=0, sort_keys=True) + "\n")
        print(f"recorded {len(got)} files into {ref}")
        return 0
    want = json.loads(ref.read_text())
    bad = [k for k in got if want.get(k) != got[k]]
    missing = [k for k in got if k not in want]
    print(f"{len(got)} files checked{' (gate memos on, as in a bulk ingest)' if memo else ''}, "
          f"{len(bad) - len(missing)} differ, {len(missing)} not in {ref}")
    for k in bad[:20]:
        print("  differs:" if k in want else "  new:", k)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
