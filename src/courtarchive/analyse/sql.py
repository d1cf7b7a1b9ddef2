"""The analytics SQL, written once in DuckDB's dialect (Spark runs it transpiled by sqlglot).

It turns the archive's fact tables (registered as Arrow: hearings, parties, offences, complainant
mentions of *current* publications, plus reference tables) into the input tables of
`courtarchive.analyse.definitions`:

    cases, case_defendants, case_offences, offence_complainants

How each case field is derived from what the lists show (the caveats are in the report's methods):

* ``first_hearing_date`` / court: the earliest non-warned listing of the case (ties: magistrates'
  before SJP before Crown); warned lists announce trials, they are not sittings.
* ``offence_date``: the earliest date written in an offence wording ("On 12/03/2021 ...") or an
  ``offence_date`` column where a register has one.
* ``offence_town``: "at <Town>" in the wording, matched against the gazetteer (longest name first),
  police force area by the gazetteer (name clashes resolved towards the court's force).
* ``residence_town``: the address town of the first defendant of the earliest listing that prints
  an address (press lists); "No fixed abode" gives none.  Force by the gazetteer (town + county).
* ``court_town``: the gazetteer town of the court of first hearing and that court's force.
* convictions: a conviction date or guilty plea printed against a defendant's offences
  (magistrates' press lists); an SJP case counts as convicted on its SJP sitting (SJP lists print
  no outcome; most SJP cases end in conviction); for the Crown Court, where lists print no pleas, defendants of a
  case listed for sentence count as convicted on the last sitting before the sentence hearing.
* ``completion_date`` / ``outcome``: the last listing is final when it is a sentence, a
  withdrawal / no-evidence mention, an SJP hearing, a magistrates' trial with no conviction, a
  magistrates' listing where every defendant stands convicted and no sentence hearing can still
  follow, or a Crown trial with no sentence hearing after it.  "No sentence hearing can still
  follow" is read from the data: the same court has lists at least ``MAGS_SENTENCE_DAYS`` /
  ``CROWN_SENTENCE_DAYS`` after that listing (a sentence would have been listed by then).
  Otherwise the case is open (censored at the end of the data).
"""

from __future__ import annotations

__all__ = ["derivation", "MAGS_SENTENCE_DAYS", "CROWN_SENTENCE_DAYS", "MODES"]

MAGS_SENTENCE_DAYS = 42      # a magistrates' sentence hearing follows a conviction within 42 days
CROWN_SENTENCE_DAYS = 49     # a Crown Court sentence hearing follows the verdict within 49 days
MODES = ("linkage", "oracle", "names")

_PUB = """
SELECT id AS publication_id, list_type, content_date,
       CASE WHEN list_type LIKE 'CROWN_WARNED%' THEN 'warned'
            WHEN list_type LIKE 'CROWN%' THEN 'crown'
            WHEN list_type LIKE 'SJP%' THEN 'sjp'
            WHEN list_type LIKE 'MAGISTRATES%' THEN 'mags'
            ELSE 'other' END AS family,
       list_type IN ('MAGISTRATES_STANDARD_LIST', 'SJP_PRESS_LIST', 'MAGISTRATES_ADULT_COURT_LIST',
                     'CSV_REGISTER') AS press
FROM publication_raw WHERE superseded_by IS NULL
"""

_HX = """
SELECT h.id AS hearing_id, h.case_id AS cid, h.court_id, coalesce(h.sitting_date, p.content_date) AS d,
       p.family, p.list_type, p.press, lower(coalesce(h.hearing_type, '')) AS ht
FROM hearing_raw h JOIN pub p ON p.publication_id = h.publication_id
WHERE h.case_id IS NOT NULL
"""

_DATA_END = "SELECT max(d) AS end_date FROM hx WHERE family <> 'warned'"

_CASE_IDS = """
SELECT c.id AS cid, coalesce(c.urn, c.case_key) AS case_id
FROM case_raw c WHERE c.id IN (SELECT cid FROM hx)
"""

_DP = {
    "linkage": """
SELECT pa.id AS party_id, pa.case_id AS cid, pa.hearing_id, 'D' || CAST(a.person_id AS VARCHAR) AS defendant_id
FROM party_raw pa JOIN person_d a ON a.mention_id = pa.id
WHERE pa.role = 'DEFENDANT' AND pa.case_id IS NOT NULL
""",
    "oracle": """
SELECT pa.id AS party_id, pa.case_id AS cid, pa.hearing_id, t.person_id AS defendant_id
FROM party_raw pa
JOIN pub_file f ON f.publication_id = pa.publication_id
JOIN truth_dm t ON t.file = f.file AND t.json_path = pa.json_path
WHERE pa.role = 'DEFENDANT' AND pa.case_id IS NOT NULL
""",
    "names": """
SELECT pa.id AS party_id, pa.case_id AS cid, pa.hearing_id,
       'N:' || lower(coalesce(pa.surname, pa.name_as_listed, '')) || '|' || lower(coalesce(pa.forenames, ''))
            || '|' || coalesce(CAST(pa.date_of_birth AS VARCHAR), '') AS defendant_id
FROM party_raw pa
WHERE pa.role = 'DEFENDANT' AND pa.case_id IS NOT NULL
  AND coalesce(pa.surname, pa.name_as_listed) IS NOT NULL AND NOT coalesce(pa.is_masked, false)
""",
}

_CM = {
    "linkage": """
SELECT c.case_id AS cid, c.hearing_id, o.party_id, 'V' || CAST(a.person_id AS VARCHAR) AS complainant_id
FROM complainant_raw c JOIN person_c a ON a.mention_id = c.id
LEFT JOIN offence_raw o ON o.id = c.offence_id
WHERE c.case_id IS NOT NULL
""",
    "oracle": """
WITH m AS (
SELECT o.case_id AS cid, o.hearing_id, o.party_id, t.victim_id, t.kind
FROM offence_raw o
JOIN pub_file f ON f.publication_id = o.publication_id
JOIN truth_cm t ON t.file = f.file AND t.json_path = o.json_path
WHERE t.kind IN ('named', 'initials') AND o.case_id IS NOT NULL   -- definitions.IDENTIFYING_KINDS
UNION ALL
SELECT c.case_id AS cid, c.hearing_id, CAST(NULL AS BIGINT) AS party_id, t.victim_id, t.kind
FROM complainant_raw c
JOIN pub_file f ON f.publication_id = c.publication_id
JOIN truth_cm t ON t.file = f.file AND t.json_path = c.json_path
WHERE c.kind = 'party' AND t.kind = 'party' AND c.case_id IS NOT NULL),
n AS (SELECT m.*, max(CASE WHEN kind IN ('named', 'party') THEN 1 ELSE 0 END)
                      OVER (PARTITION BY cid, victim_id) AS named_here FROM m)
-- definitions: a complainant named in a case is one person wherever named; shown by initials only,
-- within that case alone
SELECT n.cid, n.hearing_id, n.party_id,
       CASE WHEN n.named_here = 1 THEN n.victim_id
            ELSE n.victim_id || '@' || coalesce(k.urn, k.case_key) END AS complainant_id
FROM n JOIN case_raw k ON k.id = n.cid
""",
    "names": """
SELECT c.case_id AS cid, c.hearing_id, o.party_id, 'T:' || c.token AS complainant_id
FROM complainant_raw c LEFT JOIN offence_raw o ON o.id = c.offence_id
WHERE c.token IS NOT NULL AND c.case_id IS NOT NULL
""",
}

_CASE_DEFENDANTS = """
WITH d AS (SELECT DISTINCT cid, defendant_id FROM dp),
mconv AS (
    SELECT dp.cid, dp.defendant_id,
           min(coalesce(o.conviction_date,
                        CASE WHEN upper(trim(o.plea)) IN ('GUILTY', 'G', 'GUILTY PLEA') THEN o.plea_date END)) AS cdate
    FROM offence_raw o JOIN dp ON dp.party_id = o.party_id
    GROUP BY dp.cid, dp.defendant_id),
sen AS (SELECT cid, min(d) AS sen_date FROM hx WHERE family = 'crown' AND ht LIKE '%sentence%' GROUP BY cid),
pre AS (SELECT s.cid, max(h.d) AS conv_date FROM sen s JOIN hx h ON h.cid = s.cid
        WHERE h.family = 'crown' AND h.d < s.sen_date GROUP BY s.cid),
sjp AS (SELECT cid, min(d) AS sjp_date FROM hx WHERE family = 'sjp' GROUP BY cid)
SELECT ci.case_id, d.defendant_id,
       coalesce(m.cdate, pre.conv_date, sjp.sjp_date) IS NOT NULL AS convicted,
       coalesce(m.cdate, pre.conv_date, sjp.sjp_date) AS conviction_date,
       d.cid
FROM d JOIN case_ids ci ON ci.cid = d.cid
LEFT JOIN mconv m ON m.cid = d.cid AND m.defendant_id = d.defendant_id
LEFT JOIN pre ON pre.cid = d.cid
LEFT JOIN sjp ON sjp.cid = d.cid
"""

_CASE_OFFENCES = """
SELECT DISTINCT ci.case_id, dp.defendant_id, coalesce(o.code, r.code) AS offence_code
FROM offence_raw o
JOIN dp ON dp.party_id = o.party_id
JOIN case_ids ci ON ci.cid = dp.cid
LEFT JOIN offence_titles r ON r.title_key = lower(trim(o.title))
WHERE coalesce(o.code, r.code) IS NOT NULL
"""

_OFFENCE_COMPLAINANTS = """
SELECT DISTINCT ci.case_id, dp.defendant_id, cm.complainant_id
FROM cm JOIN dp ON dp.party_id = cm.party_id JOIN case_ids ci ON ci.cid = cm.cid
WHERE cm.party_id IS NOT NULL
UNION
SELECT DISTINCT ci.case_id, d.defendant_id, cm.complainant_id
FROM cm JOIN (SELECT DISTINCT cid, defendant_id FROM dp) d ON d.cid = cm.cid
JOIN case_ids ci ON ci.cid = cm.cid
WHERE cm.party_id IS NULL
"""

_FIRST = """
SELECT cid, d AS first_date, court_id AS first_court_id FROM (
  SELECT cid, d, court_id, row_number() OVER (
      PARTITION BY cid ORDER BY d, CASE family WHEN 'mags' THEN 0 WHEN 'sjp' THEN 1 ELSE 2 END, hearing_id) AS rn
  FROM hx WHERE family <> 'warned') x
WHERE rn = 1
"""

_LAST = """
SELECT cid, d AS last_date, family AS last_family, ht AS last_ht, court_id AS last_court_id FROM (
  SELECT cid, d, family, ht, court_id, row_number() OVER (
      PARTITION BY cid ORDER BY d DESC, CASE family WHEN 'crown' THEN 0 WHEN 'mags' THEN 1 ELSE 2 END,
                                CASE WHEN ht LIKE '%sentence%' THEN 0 ELSE 1 END, hearing_id DESC) AS rn
  FROM hx WHERE family <> 'warned') x
WHERE rn = 1
"""

# the place of offence: "at <Town>" in the first wording that names a gazetteer town
_PLACE = """
SELECT cid, place_key FROM (
  SELECT cid, place_key, row_number() OVER (PARTITION BY cid ORDER BY offence_id) AS rn FROM (
    SELECT o.case_id AS cid, o.id AS offence_id, lower(regexp_extract(o.wording, '{pattern}', 1)) AS place_key
    FROM offence_raw o WHERE o.wording IS NOT NULL AND o.case_id IS NOT NULL) y
  WHERE place_key <> '') x
WHERE rn = 1
"""

_ODATE = r"""
SELECT cid, min(od) AS offence_date FROM (
  SELECT o.case_id AS cid, coalesce(o.offence_date, TRY_CAST(
      substr(ds, 7, 4) || '-' || substr(ds, 4, 2) || '-' || substr(ds, 1, 2) AS DATE)) AS od
  FROM (SELECT case_id, offence_date, regexp_extract(coalesce(wording, ''), '(\d\d/\d\d/\d\d\d\d)', 1) AS ds
        FROM offence_raw WHERE case_id IS NOT NULL) o) x
GROUP BY cid
"""

_RESIDENCE = """
SELECT cid, town, county FROM (
  SELECT pa.case_id AS cid, pa.town, pa.county,
         row_number() OVER (PARTITION BY pa.case_id ORDER BY hx.d, pa.id) AS rn
  FROM party_raw pa JOIN hx ON hx.hearing_id = pa.hearing_id
  WHERE pa.role = 'DEFENDANT' AND hx.press AND (pa.address IS NOT NULL OR pa.town IS NOT NULL)) x
WHERE rn = 1
"""

_HCOUNT = "SELECT cid, count(*) AS hearings FROM (SELECT DISTINCT cid, family, d FROM hx) x GROUP BY cid"

_COURT_LAST = "SELECT court_id, max(d) AS last_sat FROM hx WHERE family <> 'warned' GROUP BY court_id"

_CASE_CONV = """
SELECT cid, max(CASE WHEN convicted THEN 1 ELSE 0 END) AS any_conv,
       min(CASE WHEN convicted THEN 1 ELSE 0 END) AS all_conv, max(conviction_date) AS last_conv
FROM case_defendants GROUP BY cid
"""

_CASES = f"""
WITH o AS (
  SELECT x.cid, x.town, x.pfa FROM (
    SELECT p.cid, a.town, a.pfa, row_number() OVER (
        PARTITION BY p.cid ORDER BY CASE WHEN a.pfa = cr.court_pfa THEN 0 ELSE 1 END, a.pfa) AS rn
    FROM place p JOIN town_alias a ON a.key = p.place_key
    JOIN first_h f ON f.cid = p.cid LEFT JOIN court_ref cr ON cr.court_id = f.first_court_id) x
  WHERE x.rn = 1),
r AS (
  SELECT cid, town, pfa FROM (
    SELECT res.cid, a.town, a.pfa, row_number() OVER (
        PARTITION BY res.cid ORDER BY CASE WHEN lower(a.county) = lower(res.county) THEN 0 ELSE 1 END,
                                      CASE WHEN a.pfa = cr.court_pfa THEN 0 ELSE 1 END, a.pfa) AS rn
    FROM residence res JOIN town_alias a ON a.key = lower(trim(res.town))
    JOIN first_h f ON f.cid = res.cid LEFT JOIN court_ref cr ON cr.court_id = f.first_court_id) y
  WHERE rn = 1)
SELECT ci.case_id, f.first_date AS first_hearing_date, od.offence_date,
       CASE WHEN st.status = 'open' THEN NULL ELSE l.last_date END AS completion_date,
       CASE WHEN st.status = 'open' THEN NULL ELSE st.status END AS outcome,
       o.town AS offence_town, r.town AS residence_town, cr.court_town,
       o.pfa AS offence_pfa, r.pfa AS residence_pfa, cr.court_pfa,
       f.first_court_id AS court_id, cr.court_name, l.last_date, coalesce(hc.hearings, 0) AS hearings, ci.cid
FROM case_ids ci
JOIN first_h f ON f.cid = ci.cid
JOIN last_h l ON l.cid = ci.cid
LEFT JOIN odate od ON od.cid = ci.cid
LEFT JOIN o ON o.cid = ci.cid
LEFT JOIN r ON r.cid = ci.cid
LEFT JOIN court_ref cr ON cr.court_id = f.first_court_id
LEFT JOIN hcount hc ON hc.cid = ci.cid
JOIN (
  SELECT ci2.cid, CASE
    WHEN l2.last_family = 'sjp' THEN 'convicted'
    WHEN l2.last_ht LIKE '%sentence%' THEN 'convicted'
    WHEN l2.last_ht LIKE '%withdrawn%' OR l2.last_ht LIKE '%no evidence%' OR l2.last_ht LIKE '%discontinu%'
         OR l2.last_ht LIKE '%dismiss%' THEN 'withdrawn'
    WHEN l2.last_family = 'mags' AND l2.last_ht = 'trial' AND coalesce(cc2.any_conv, 0) = 0 THEN 'acquitted'
    WHEN l2.last_family = 'mags' AND (l2.last_ht = 'trial' OR coalesce(cc2.all_conv, 0) = 1)
         AND coalesce(cc2.any_conv, 0) = 1
         AND date_diff('day', l2.last_date, cl.last_sat) >= {MAGS_SENTENCE_DAYS} THEN 'convicted'
    WHEN l2.last_family = 'crown' AND l2.last_ht LIKE 'trial%'
         AND date_diff('day', l2.last_date, cl.last_sat) >= {CROWN_SENTENCE_DAYS} THEN 'acquitted'
    ELSE 'open' END AS status
  FROM case_ids ci2 JOIN last_h l2 ON l2.cid = ci2.cid
  LEFT JOIN case_conv cc2 ON cc2.cid = ci2.cid
  LEFT JOIN court_last cl ON cl.court_id = l2.last_court_id) st ON st.cid = ci.cid
"""


def derivation(mode: str, place_pattern: str) -> list[tuple[str, str]]:
    """The statements, in order, as (table name, SELECT).  ``mode`` says where person ids come
    from: ``linkage`` (the stored link run), ``oracle`` (generator truth), ``names`` (no linkage:
    exact name + date of birth keys and complainant tokens)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    pat = place_pattern.replace("'", "''")
    return [
        ("pub", _PUB), ("hx", _HX), ("data_end", _DATA_END), ("case_ids", _CASE_IDS),
        ("dp", _DP[mode]), ("cm", _CM[mode]),
        ("case_defendants", _CASE_DEFENDANTS), ("case_offences", _CASE_OFFENCES),
        ("offence_complainants", _OFFENCE_COMPLAINANTS),
        ("first_h", _FIRST), ("last_h", _LAST), ("place", _PLACE.format(pattern=pat)),
        ("odate", _ODATE), ("residence", _RESIDENCE), ("case_conv", _CASE_CONV), ("court_last", _COURT_LAST),
        ("hcount", _HCOUNT),
        ("cases", _CASES),
    ]
