"""Screening defaults, in a module of their own so that the CLI can show them without importing
Splink (`link.screen` does)."""

#: candidates are listed down to this match probability (a name-only row in a big archive is
#: genuinely uncertain: "John SMITH" with no date of birth is a candidate, not a match)
DEFAULT_THRESHOLD = 0.001
#: persons kept per row; candidates tied with the last one kept are kept too (a name-only row in
#: a big archive has namesakes: at 1M people the listed person is among the first 5 for 96.6 % of
#: the bench's rows, among the first 10 for 97.6 %)
DEFAULT_TOP = 10
