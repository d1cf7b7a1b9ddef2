"""The one way a parser says no.

Every parser in `courtarchive.ingest` either returns a `ParsedList` or raises `Rejected`; any
other exception escaping a parser is a defect.  A rejection names *where* (the JSON path, or for
CSV `row N, column X`) and *why* in words an operator can act on.  Reasons never quote the
offending value (it may be a person's name), only what is wrong with it.
"""

from __future__ import annotations


class Rejected(Exception):
    """An input the archive will not take: `reason` (required), `json_path` and `source_name`."""

    def __init__(self, reason: str, json_path: str | None = None, source_name: str | None = None):
        self.reason = str(reason) if reason else "rejected"
        self.json_path = json_path
        self.source_name = source_name
        super().__init__(self.reason)

    def with_source(self, source_name: str | None) -> "Rejected":
        """Fill in the source name when the raiser did not know it; returns self."""
        if self.source_name is None:
            self.source_name = source_name
        return self

    def __str__(self) -> str:
        return f"{self.source_name or '-'}: {self.json_path or '-'}: {self.reason}"

    def __repr__(self) -> str:
        return (f"Rejected(reason={self.reason!r}, json_path={self.json_path!r}, "
                f"source_name={self.source_name!r})")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.reason, self.json_path, self.source_name))


def input_bytes(data, max_bytes: int) -> bytes:
    """The raw input of a binary parser (CSV, PDF, Excel) as bytes, refused when it is not bytes,
    is over ``max_bytes`` or is empty."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Rejected(f"input must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise Rejected(f"input is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data.strip():
        raise Rejected("empty input")
    return data
