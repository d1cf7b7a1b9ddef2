"""The link stage: the same people, complainants, cases and networks across years of lists.

Modules (each documents its decisions in its docstring)
    complainants  extractor of complainant mentions from offence wording (runs at intake, in the gate)
    standardise   defendant mention columns for linkage (names, variants, DOB, age -> birth years, ...)
    model         the Splink 5 model: comparisons, blocking, training, the match threshold, engines
    cluster       clustering with reviewers' must/cannot-link constraints; stable person ids
    victims       complainant clustering over tokens and keyed Bloom encodings (no cleartext)
    networks      defendant graph and defendant-case-complainant graph (igraph), Leiden, stable ids
    run           the stage end to end, full or incremental; `explain`
    evaluate      pairwise and B-cubed scores against the generator's truth
    synthetic     synthetic defendant mentions with truth (tests, bench/linkage.py)
    cli           ``courtarchive link run | explain | review | decide | evaluate``

Thresholds (documented where defined)
    `model.MATCH_THRESHOLD` = 0.9       defendant pairs at or above are linked
    `model.REVIEW_BAND` = [0.5, 0.95)   defendant pairs listed for review
    `victims.BLOOM_DICE` = 0.80         complainant Bloom Dice, same case
    `victims.BLOOM_DICE_AREA` = 0.90    complainant Bloom Dice, same court (the token scope)
    `victims.CHAIN_FLOOR` = 0.65        no complainant cluster joins names below this Dice
"""
