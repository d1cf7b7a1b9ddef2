"""Screening defaults, in a module of their own so that the CLI can show them without importing
Splink (`link.screen` does)."""

#: candidates are listed down to this match probability (a name-only row in a big archive is
#: genuinely uncertain: "John SMITH" with no date of birth is a candidate, not a match)
DEFAULT_THRESHOLD = 0.001
#: persons kept per row; candidates tied with the last one kept are kept too.  A row with a date
#: of birth rarely has more than one or two candidates above the threshold; a name-only row in a
#: big archive has namesakes, ranked only by weak evidence (town, postcode).  bench/screening.py
#: at 1M people: the listed person is among the first 10 for 97.6 % of rows, the first 20 for
#: 98.2 %, the first 25 for 98.7 % (2026-11-26)
DEFAULT_TOP = 20
