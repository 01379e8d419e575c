"""Streaming reader for N-Triples files such as Wikidata's truthy dump (plain, .gz or .bz2)."""

import bz2
import contextlib
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

from multihop.errors import UserError

_IRI = r"<[^<>\"{}|^`\\\s]*>"
_BLANK = r"_:[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_LITERAL = r'"(?:[^"\\\n\r]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^' + _IRI + r")?"
_TRIPLE = re.compile(rf"\s*({_IRI}|{_BLANK})\s*({_IRI})\s*({_IRI}|{_BLANK}|{_LITERAL})\s*\.\s*(?:#.*)?")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[tbnrf\"'\\])")
_SIMPLE_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class NTriplesError(UserError):
    """A line that is not valid N-Triples; the message names the file and line."""


@dataclass(frozen=True)
class Term:
    """One RDF term: an IRI (`value` without brackets), a blank node or a literal."""

    kind: str  # "iri", "blank" or "literal"
    value: str
    language: str = ""  # literals only
    datatype: str = ""  # literals only


def unescape(text: str) -> str:
    def replace(match):
        code = match.group(1)
        if code[0] in "uU":
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES[code]

    return _ESCAPE.sub(replace, text) if "\\" in text else text


def parse_term(token: str) -> Term:
    if token[0] == "<":
        return Term("iri", unescape(token[1:-1]))
    if token[0] == "_":
        return Term("blank", token[2:])
    end = token.rindex('"')
    value = unescape(token[1:end])
    suffix = token[end + 1 :]
    if suffix.startswith("@"):
        return Term("literal", value, language=suffix[1:].lower())
    if suffix.startswith("^^"):
        return Term("literal", value, datatype=suffix[3:-1])
    return Term("literal", value)


def open_text(path) -> io.TextIOBase:
    """Open a plain, gzip or bzip2 file as UTF-8 text, by its ending."""
    path = Path(path)
    if not path.is_file():
        raise NTriplesError(f"N-Triples file not found: {path}")
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", newline="\n")


@contextlib.contextmanager
def _unreadable_as_error(path, line_number):
    """A file that is not UTF-8 text, or not the compression its name says, or cut off, is a
    plain NTriplesError naming the file and the line reached."""
    try:
        yield
    except UnicodeDecodeError:
        raise NTriplesError(f"{path}, line {line_number() + 1}: not UTF-8 text; is this an N-Triples file?") from None
    except (gzip.BadGzipFile, OSError) as error:
        raise NTriplesError(
            f"{path}: cannot be read as {_compression(path)} ({error}); is the file name's ending right?"
        ) from None
    except EOFError:
        raise NTriplesError(
            f"{path}: the {_compression(path)} data ends early, after line {line_number()}; the file is cut off"
        ) from None


def _compression(path) -> str:
    return {".gz": "gzip", ".bz2": "bzip2"}.get(Path(path).suffix, "plain text")


def parse_line(line: str):
    """Return (subject, predicate, object) tokens, None for a blank or comment line; raise on anything else."""
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return None
    match = _TRIPLE.fullmatch(stripped)
    if match is None:
        raise ValueError("not a triple")
    return match.groups()


def read_triples(path, max_bad_lines: int = 0, on_bad_line=None):
    """Yield (line_number, subject, predicate, object) token triples, streaming in constant memory.

    Malformed lines raise NTriplesError naming the file, line number and line, unless fewer than
    `max_bad_lines` have been seen: those are passed to `on_bad_line(number, line)` and skipped.
    """
    bad, number = 0, 0
    with open_text(path) as lines, _unreadable_as_error(path, lambda: number):
        for number, line in enumerate(lines, start=1):
            try:
                triple = parse_line(line)
            except ValueError:
                bad += 1
                if bad > max_bad_lines:
                    raise NTriplesError(
                        f"{path}, line {number}: malformed N-Triples line: {line.rstrip()[:300]!r}"
                    ) from None
                if on_bad_line is not None:
                    on_bad_line(number, line)
                continue
            if triple is not None:
                yield (number, *triple)
