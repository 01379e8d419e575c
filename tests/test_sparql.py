"""The sparql source against a real SPARQL server (Oxigraph on 127.0.0.1) loaded with the same file."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from multihop.dataset.chains import entity_rules
from multihop.dataset.sparql import SparqlClient, extract_from_endpoint, verify_tables
from multihop.dataset.wikidata import WikidataError, extract_from_dump

ROOT = Path(__file__).resolve().parents[1]
# the server comes with the test extras (PyPI `oxigraph`), next to this interpreter
OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def excerpt():
    return ROOT / "data" / "wikidata" / "excerpt.nt"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory, excerpt):
    store = tmp_path_factory.mktemp("oxigraph")
    subprocess.run([OXIGRAPH, "load", "--location", store, "--file", excerpt], check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [OXIGRAPH, "serve-read-only", "--location", store, "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/query"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}?query=ASK%7B%7D", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_sparql_and_dump_give_identical_tables(endpoint, excerpt, config, tmp_path):
    classes, relations = config["entity_types"], list(config["relations"])
    client = SparqlClient(endpoint, tmp_path / "cache")
    from_server = extract_from_endpoint(client, classes, relations, page_size=500, batch_size=100)
    from_dump = extract_from_dump(excerpt, classes, relations)
    assert len(from_dump[1]) > 1000  # a real comparison, not of two empty tables
    pd.testing.assert_frame_equal(from_server[1], from_dump[1])
    # each source lists an item's classes in an order of its own, and the study's type is the first
    # (the authors' endpoint's first row): the tables agree in the config's order
    pd.testing.assert_frame_equal(in_config_order(from_server[0], classes), in_config_order(from_dump[0], classes))
    differ = from_server[0]["type"] != from_dump[0]["type"]
    assert from_server[0].loc[differ, "classes"].str.contains("|", regex=False).all()
    # a rerun answers from the cache and sends nothing
    again = SparqlClient(endpoint, tmp_path / "cache")
    extract_from_endpoint(again, classes, relations, page_size=500, batch_size=100)
    assert client.requests_sent > 0 and again.requests_sent == 0


def in_config_order(entities: pd.DataFrame, classes: dict) -> pd.DataFrame:
    """An entity table with each item's classes, and so its type, in the config's order."""
    typed = entity_rules(entities, {"unlabelled": "id", "entity_type": "config_order"}, classes)
    return typed.assign(classes=["|".join(c for c in classes if c in text.split("|")) for text in typed["classes"]])


def _top(entities: pd.DataFrame, ranked: int) -> list:
    """[(class, rank, qid)] for ranks up to `ranked`, from an entity table's class_ranks."""
    parts = [
        (*part.split(":"), qid)
        for qid, text in zip(entities["qid"], entities["class_ranks"], strict=True)
        for part in text.split("|")
        if part
    ]
    return sorted((cls, int(rank), qid) for cls, rank, qid in parts if int(rank) <= ranked)


def test_sparql_ranks_only_the_most_stated_members_of_each_class_as_the_dump_does(endpoint, excerpt, config, tmp_path):
    """Asked for each class's 3 most-stated members (and any tied with the third), the endpoint
    gives the dump's first three places of every class: ties broken by QID in both."""
    classes, relations = config["entity_types"], list(config["relations"])
    client = SparqlClient(endpoint, tmp_path / "cache")
    entities, _ = extract_from_endpoint(client, classes, relations, page_size=500, batch_size=100, ranked=3)
    from_dump, _ = extract_from_dump(excerpt, classes, relations)
    top = _top(entities, 3)
    assert top == _top(from_dump, 3) and len(top) >= 3 * 10  # most of the 19 classes have 3 members here


def test_unreachable_endpoint_is_a_plain_error_after_retries(tmp_path):
    client = SparqlClient(f"http://127.0.0.1:{free_port()}/query", tmp_path, retries=3, backoff_s=0.01, timeout_s=2)
    with pytest.raises(WikidataError, match="unreachable after 3 tries"):
        client.select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    assert client.requests_sent == 3 and not list(tmp_path.iterdir())


def test_verification_finds_what_the_endpoint_says_differently(endpoint, excerpt, config, tmp_path):
    classes, relations = config["entity_types"], list(config["relations"])
    entities, facts = extract_from_dump(excerpt, classes, relations)
    client = SparqlClient(endpoint, tmp_path)
    assert verify_tables(client, entities, facts, classes) == {"label": [], "classes": [], "missing_fact": []}

    entities.loc[entities["qid"] == "Q30", "label"] = "United States"
    invented = pd.DataFrame([("Q30", "P36", "Q90")], columns=facts.columns)  # Paris, capital of the USA
    found = verify_tables(client, entities, pd.concat([facts, invented]), classes)
    assert found["label"] == [("Q30", "United States", "United States of America")]
    assert found["missing_fact"] == [("Q30", "P36", "Q90")]


@pytest.fixture
def html_server():
    """A web server on 127.0.0.1 that answers every request with an HTML page, not SPARQL JSON."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>Welcome to the wiki</body></html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/wiki"
    server.shutdown()


def test_an_endpoint_answering_html_is_a_plain_error(html_server, tmp_path):
    client = SparqlClient(html_server, tmp_path / "cache", retries=1)
    with pytest.raises(WikidataError, match="something other than SPARQL JSON.*Welcome to the wiki"):
        client.select("SELECT * WHERE { ?s ?p ?o }")
    assert not list((tmp_path / "cache").glob("*.json"))  # nothing cached from a bad answer


@pytest.fixture
def scripted_server():
    """An endpoint that gives the answers of `server.answers` in turn, (status, headers, body)
    each, and records when each request came."""
    import http.server
    import threading

    class Scripted(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.server.times.append(time.monotonic())
            status, headers, body = self.server.answers.pop(0)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.times, server.answers = [], []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


GOOD_ANSWER = b'{"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "literal", "value": "x"}}]}}'


def test_a_client_error_stops_at_once_naming_the_status(scripted_server, tmp_path):
    scripted_server.answers = [(400, {}, b"Parse error: unexpected token")]
    client = SparqlClient(scripted_server.url, tmp_path, retries=3, backoff_s=0.01)
    with pytest.raises(WikidataError, match=r"refused a query \(400\): Parse error"):
        client.select("SELECT")
    assert client.requests_sent == 1


def test_server_errors_are_retried_then_a_plain_error(scripted_server, tmp_path):
    scripted_server.answers = [(503, {}, b"busy")] * 3
    client = SparqlClient(scripted_server.url, tmp_path, retries=3, backoff_s=0.01)
    with pytest.raises(WikidataError, match="unreachable after 3 tries: HTTP Error 503"):
        client.select("SELECT")
    assert client.requests_sent == 3 and not list(tmp_path.iterdir())


def test_too_many_requests_waits_as_long_as_retry_after_says(scripted_server, tmp_path):
    scripted_server.answers = [(429, {"Retry-After": "1"}, b"slow down"), (200, {}, GOOD_ANSWER)]
    client = SparqlClient(scripted_server.url, tmp_path, retries=3, backoff_s=0.01)
    assert client.select("SELECT") == [{"s": "x"}]
    first, second = scripted_server.times
    assert second - first >= 1.0  # the back-off alone would have waited 0.01 s


def test_a_cut_off_answer_is_a_plain_error_and_not_cached(scripted_server, tmp_path):
    scripted_server.answers = [(200, {}, GOOD_ANSWER[:40])]
    client = SparqlClient(scripted_server.url, tmp_path, retries=1)
    with pytest.raises(WikidataError, match="answered with JSON that is cut off or malformed"):
        client.select("SELECT")
    assert not list(tmp_path.iterdir())


EMPTY_ANSWER = b'{"head": {"vars": ["s", "o"]}, "results": {"bindings": []}}'


def test_an_endpoint_without_the_facts_is_a_plain_error(scripted_server, tmp_path):
    """Empty results for every relation (an empty store, or not Wikidata): one plain message."""
    relations = ["P27", "P36"]
    scripted_server.answers = [(200, {}, EMPTY_ANSWER)] * len(relations)
    client = SparqlClient(scripted_server.url, tmp_path, retries=1)
    with pytest.raises(WikidataError, match="has no facts of the config's relations between items of its entity_types"):
        extract_from_endpoint(client, {"Q5": "human", "Q6256": "country"}, relations)
    assert len(scripted_server.times) == len(relations)  # one page per relation, then the message
