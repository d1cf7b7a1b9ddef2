"""CSV registers: the documented format, grouping, complainants, and the rejection discipline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from courtarchive.ingest import csv_register
from courtarchive.ingest.csv_register import COLUMNS, parse_csv
from courtarchive.ingest.errors import Rejected

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "register.csv"
HEADER = "court,sitting_date,sitting_time,room,urn,case_number,forenames,surname,dob,offence_title,plea,complainant"


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header,) + rows) + "\n").encode()


def reject(data: bytes, **kw) -> Rejected:
    with pytest.raises(Rejected) as e:
        parse_csv(data, source_name="reg.csv", **kw)
    assert e.value.reason and e.value.source_name == "reg.csv"
    return e.value


def test_documented_example_parses():
    pl = parse_csv(EXAMPLE.read_bytes(), source_name="register.csv")
    m = pl.meta
    assert (m.list_type, m.sensitivity, m.source_format, m.content_date, m.court_name) == (
        "CSV_REGISTER", "CLASSIFIED", "csv", dt.date(2024, 3, 4), "Preston Magistrates' Court")
    assert len(pl.hearings) == 4            # rows 2-4 share court, date and URN
    first = pl.hearings[0]
    assert (first.json_path, first.case_urn, first.sitting_time, first.room, first.prosecuting_authority) == (
        "row 2", "42AB1234567", "10:00", "Courtroom 1", "CPS")
    assert [p.hearing_ref for p in pl.parties] == [0, 0, 1, 2, 3]
    alex = pl.parties[0]
    assert (alex.role, alex.title, alex.forenames, alex.surname, alex.date_of_birth, alex.age) == (
        "DEFENDANT", "Mr", "Alex", "Example", dt.date(1990, 5, 17), 33)
    assert (alex.address, alex.town, alex.postcode, alex.name_as_listed) == (
        "1 Sample Street, Flat 2", "Preston", "PR1 0XX", "Mr Alex Example")
    assert pl.parties[3].organisation_name == "Demo Haulage Ltd" and pl.parties[3].surname is None
    assert [(o.party_ref, o.seq, o.code) for o in pl.offences[:3]] == [(0, 1, "CJ88116"), (0, 2, "CD71039"), (1, 1, "CJ88116")]
    assert pl.offences[0].wording.endswith("assaulted Jordan Placeholder by beating him.")   # gate redacts later
    assert [(c.hearing_ref, c.offence_ref, c.name, c.json_path) for c in pl.raw_complainants] == [
        (0, 0, "Jordan Placeholder", "row 2, column complainant"),
        (0, 1, "Jordan Placeholder", "row 3, column complainant"),
        (0, 2, "Jordan Placeholder", "row 4, column complainant")]
    assert not any("Placeholder" in (p.name_as_listed or "") for p in pl.parties)
    restricted = pl.hearings[3]
    assert restricted.reporting_restriction is True and "1992" in restricted.reporting_restriction_detail
    assert not pl.warnings


def test_every_column_is_documented():
    doc = (REPO / "docs" / "csv-format.md").read_text()
    for name in COLUMNS:
        assert f"`{name}`" in doc, name
        assert name in csv_register.__doc__, name
    header = EXAMPLE.read_text().splitlines()[0].split(",")
    assert set(header) <= set(COLUMNS)


def test_grouping_parties_by_name_and_dob():
    data = csv_bytes(
        "Court A,2024-01-02,10:00,1,URN1,,Ann,Smith,1990-01-01,Theft,GUILTY,",
        "Court A,2024-01-02,10:00,1,URN1,,ann,SMITH,1990-01-01,Fraud,NOT GUILTY,",   # same person
        "Court A,2024-01-02,10:00,1,URN1,,Ann,Smith,1991-01-01,Theft,,",             # another Ann Smith
        "Court A,2024-01-03,10:00,1,URN1,,Ann,Smith,1990-01-01,Theft,,",             # next day: new entry
        "Court A,2024-01-02,11:00,2,,CN9,Bob,Jones,,Theft,,",                        # case number only
    )
    pl = parse_csv(data, source_name="reg.csv")
    assert len(pl.hearings) == 3 and len(pl.parties) == 4
    assert [o.party_ref for o in pl.offences] == [0, 0, 1, 2, 3]
    assert [o.seq for o in pl.offences] == [1, 2, 1, 1, 1]
    assert pl.offences[1].plea == "NOT_GUILTY"
    assert pl.meta.content_date == dt.date(2024, 1, 2) and pl.meta.content_date_end == dt.date(2024, 1, 3)
    assert pl.hearings[2].case_number == "CN9" and pl.hearings[2].case_urn is None


def test_conflicting_rows_are_warned_first_kept():
    pl = parse_csv(csv_bytes("Court A,2024-01-02,10:00,1,URN1,,Ann,Smith,,Theft,,",
                             "Court A,2024-01-02,14:00,1,URN1,,Ann,Smith,,Fraud,,"), source_name="r")
    assert pl.hearings[0].sitting_time == "10:00"
    assert pl.warnings == ["row 3, column sitting_time: differs from the hearing's first row (row 2); the first is kept"]


def test_several_complainants_in_one_cell():
    pl = parse_csv(csv_bytes('Court A,2024-01-02,,,URN1,,Ann,Smith,,Theft,,"Vic One; Vic Two"'), source_name="r")
    assert [c.name for c in pl.raw_complainants] == ["Vic One", "Vic Two"]
    assert {c.offence_ref for c in pl.raw_complainants} == {0}


def test_header_aliases_case_and_bom():
    header = "Court Name,Date,Time,Case URN,First Name,Last Name,Date of Birth,Offence,Victim"
    data = b"\xef\xbb\xbf" + csv_bytes("Court A,04/03/2024,2.30pm,URN1,Ann,Smith,01/02/1990,Theft,V", header=header)
    pl = parse_csv(data, source_name="r")
    h, p = pl.hearings[0], pl.parties[0]
    assert (h.sitting_date, h.sitting_time, h.case_urn) == (dt.date(2024, 3, 4), "14:30", "URN1")
    assert (p.forenames, p.surname, p.date_of_birth) == ("Ann", "Smith", dt.date(1990, 2, 1))
    assert pl.offences[0].title == "Theft" and pl.raw_complainants[0].name == "V"


def test_crlf_quoted_multiline_and_blank_rows():
    data = (HEADER + "\r\n" + 'Court A,2024-01-02,,,URN1,,Ann,Smith,,"Theft\r\nof a bicycle",,\r\n' + ",,,,,,,,,,,\r\n").encode()
    pl = parse_csv(data, source_name="r")
    assert pl.offences[0].title == "Theft\r\nof a bicycle" and len(pl.hearings) == 1


def test_headers_apply():
    pl = parse_csv(csv_bytes("Court A,2024-01-02,,,URN1,,Ann,Smith,,Theft,,"), source_name="r",
                   headers={"x-list-type": "magistrates register", "x-sensitivity": "PUBLIC",
                            "x-content-date": "2024-01-01", "x-court-id": "1479819"})
    m = pl.meta
    assert (m.list_type, m.sensitivity, m.content_date, m.content_date_end, m.court_code) == (
        "MAGISTRATES_REGISTER", "PUBLIC", dt.date(2024, 1, 1), dt.date(2024, 1, 2), "1479819")
    assert pl.hearings[0].court_code == "1479819"


@pytest.mark.parametrize("row, where, words", [
    ("Court A,2024-13-02,,,URN1,,Ann,Smith,,Theft,,", "row 2, column sitting_date", "not a date"),
    ("Court A,2024-01-02,25:99,,URN1,,Ann,Smith,,Theft,,", "row 2, column sitting_time", "not a time"),
    ("Court A,2024-01-02,,,URN1,,Ann,Smith,yesterday,Theft,,", "row 2, column dob", "not a date"),
    ("Court A,2024-01-02,,,,,Ann,Smith,,Theft,,", "row 2", "neither a urn nor a case_number"),
    ("Court A,2024-01-02,,,URN1,,Ann,,,Theft,,", "row 2", "neither a surname nor an organisation"),
    ("Court A,2024-01-02,,,URN1,,Ann,Smith,,Theft", "row 2", "cells"),
    ("Court A,2024-01-02,,,URN1,,Ann,<b>Smith</b>,,Theft,,", "row 2, column surname", "HTML"),
    ("Court A,2024-01-02,,,URN1,,Ann,Smith,,Theft,,<script>x</script>", "row 2, column complainant", "HTML"),
    ("Court A,2024-01-02,,,URN1,,Ann,Smith,,&lt;/b&gt;,,", "row 2, column offence_title", "HTML"),
])
def test_row_faults_name_row_and_column(row, where, words):
    ok = "Court A,2024-01-02,,,URN1,,Ann,Smith,,Theft,,"
    r = reject(csv_bytes(ok, ok, ok, ok, ok, row))
    assert r.json_path == where.replace("row 2", "row 7") and words in r.reason
    assert "Smith" not in r.reason and "yesterday" not in r.reason


def test_age_and_yes_no_cells():
    header = "court,sitting_date,urn,surname,age,in_custody,reporting_restriction"
    assert reject(csv_bytes("C,2024-01-02,U,S,old,,", header=header)).json_path == "row 2, column age"
    assert reject(csv_bytes("C,2024-01-02,U,S,131,,", header=header)).json_path == "row 2, column age"
    assert reject(csv_bytes("C,2024-01-02,U,S,30,maybe,", header=header)).json_path == "row 2, column in_custody"
    pl = parse_csv(csv_bytes("C,2024-01-02,U,S,30,Yes,1", header=header), source_name="r")
    assert pl.parties[0].in_custody is True and pl.hearings[0].reporting_restriction is True


@pytest.mark.parametrize("header, where, words", [
    ("court,sitting_date,urn,surname,shoe_size", "header, column 5", "unknown column"),
    ("court,sitting_date,urn,surname,Surname", "header, column 5", "twice"),
    ("court,urn,surname", "header", "sitting_date"),
    ("court,sitting_date,surname", "header", "urn or a case_number"),
    ("court,sitting_date,urn,forenames", "header", "surname or an organisation"),
    ("court,,urn,surname", "header, column 2", "no name"),
])
def test_header_faults(header, where, words):
    r = reject(csv_bytes("a,b,c,d", header=header))
    assert r.json_path == where and words in r.reason


def test_file_level_faults():
    assert reject(b"").reason == "empty input"
    assert "limit" in reject(csv_bytes("C,2024-01-02,,,U,,A,S,,T,,"), max_bytes=10).reason
    r = reject(HEADER.encode() + b"\nC\xe9,2024-01-02,,,U,,A,S,,T,,\n")
    assert "byte offset" in r.reason and str(len(HEADER) + 2) in r.reason
    assert reject(csv_bytes()).reason == "no data rows"
    r = reject(csv_bytes('C,2024-01-02,,,U,,A,"S,,T,,'))
    assert r.reason.startswith("malformed CSV")
    r = reject(csv_bytes("C,2024-01-02,,,U,,A,S\x00,,T,,"))
    assert r.json_path == "row 2, column surname" and "NUL" in r.reason
    assert "UTF-16" in reject(csv_bytes("C,2024-01-02,,,U,,A,S,,T,,").decode().encode("utf-16")).reason
    with pytest.raises(Rejected):
        parse_csv(csv_bytes("C,2024-01-02,,,U,,A,S,,T,,"), source_name="r", headers={"x-sensitivity": "LOUD"})
