import bz2
import gzip

import pytest

from multihop.dataset.ntriples import NTriplesError, Term, parse_line, parse_term, read_triples

LINE = '<http://a/s> <http://a/p> "T\\u014Dky\\u014D \\"x\\""@en-GB .'


def test_parse_line_splits_and_literal_escapes_decode():
    subject, predicate, obj = parse_line(LINE)
    assert subject == "<http://a/s>" and predicate == "<http://a/p>"
    assert parse_term(obj) == Term("literal", 'Tōkyō "x"', language="en-gb")


def test_typed_literals_blank_nodes_comments_and_blank_lines():
    assert parse_term('"42"^^<http://www.w3.org/2001/XMLSchema#integer>').datatype.endswith("#integer")
    assert parse_line("_:b1 <http://a/p> _:b2 .")[0] == "_:b1"
    assert parse_line("<http://a/s> <http://a/p> <http://a/o> . # trailing comment") is not None
    assert parse_line("   # a comment") is None and parse_line("\n") is None


@pytest.mark.parametrize(
    "bad",
    [
        "<http://a/s> <http://a/p> <http://a/o>",  # no final dot
        '<http://a/s> "literal as predicate" <http://a/o> .',
        "<http://a/s> <http://a/p> .",
        '<http://a/s> <http://a/p> "unterminated .',
    ],
)
def test_malformed_lines_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_line(bad)


@pytest.mark.parametrize("opener,suffix", [(open, ".nt"), (gzip.open, ".nt.gz"), (bz2.open, ".nt.bz2")])
def test_read_triples_reads_plain_gzip_and_bzip2(tmp_path, opener, suffix):
    path = tmp_path / f"x{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write("# header\n\n" + LINE + "\n")
    assert [t[0] for t in read_triples(path)] == [3]


def test_bad_line_stops_with_file_and_line_number(tmp_path):
    path = tmp_path / "x.nt"
    path.write_text(LINE + "\nthis is not a triple\n" + LINE + "\n")
    with pytest.raises(NTriplesError, match=r"x\.nt, line 2: .*this is not a triple"):
        list(read_triples(path))


def test_bad_lines_within_tolerance_are_skipped_and_reported(tmp_path):
    path = tmp_path / "x.nt"
    path.write_text(LINE + "\nbroken one\n" + LINE + "\n")
    skipped = []
    numbers = [t[0] for t in read_triples(path, max_bad_lines=1, on_bad_line=lambda n, line: skipped.append(n))]
    assert numbers == [1, 3] and skipped == [2]


def test_missing_file_is_a_plain_error(tmp_path):
    with pytest.raises(NTriplesError, match="not found"):
        list(read_triples(tmp_path / "nope.nt"))


GOOD = "<http://a/s> <http://a/p> <http://a/o> .\n" * 50


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("dump.nt", b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", "line 1: not UTF-8 text"),
        ("dump.nt.gz", GOOD.encode(), "cannot be read as gzip"),
        ("dump.nt.bz2", GOOD.encode(), "cannot be read as bzip2"),
        ("dump.nt.gz", gzip.compress(GOOD.encode())[:-30], "the gzip data ends early"),
        ("dump.nt.bz2", bz2.compress(GOOD.encode())[:-20], "the bzip2 data ends early"),
    ],
    ids=["binary", "not-gzip", "not-bzip2", "cut-gzip", "cut-bzip2"],
)
def test_unreadable_dumps_are_plain_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NTriplesError, match=message) as error:
        list(read_triples(path))
    assert str(path) in str(error.value)
