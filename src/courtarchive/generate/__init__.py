"""Synthetic CaTH court-list corpus with planted truth (issue 4): ``generate(out, cases=, seed=)``."""

from .driver import DEFAULT_HOTSPOTS, generate

__all__ = ["generate", "DEFAULT_HOTSPOTS"]
