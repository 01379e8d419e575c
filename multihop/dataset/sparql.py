"""Wikidata's entity and fact tables from a SPARQL 1.1 endpoint (public Wikidata, QLever, Oxigraph).

Standard SPARQL only (no wikibase:label service), so the same queries run on any endpoint.
Raw answers are cached on disk: a rerun with the same endpoint and queries asks nothing.
"""

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from multihop.dataset.wikidata import (
    ABOUT,
    ALIAS,
    DIRECT,
    ENTITY,
    LABEL,
    SITELINKS,
    WikidataError,
    class_ranks,
    normalize,
)
from multihop.files import write_json

PREFIXES = f"""PREFIX wd: <{ENTITY}>
PREFIX wdt: <{DIRECT}>
PREFIX rdfs: <{LABEL.rsplit("#", 1)[0]}#>
PREFIX skos: <{ALIAS.rsplit("#", 1)[0]}#>
PREFIX wikibase: <{SITELINKS.rsplit("#", 1)[0]}#>
PREFIX schema: <{ABOUT.rsplit("/", 1)[0]}/>
"""
USER_AGENT = "multihop/0.1 (research workflow reproducing 'Hopping Too Late'; batched, cached queries)"


class SparqlClient:
    """SELECT queries against one endpoint, with retries, back-off and an on-disk cache."""

    def __init__(self, endpoint, cache_dir, *, retries=5, timeout_s=120, backoff_s=2.0, user_agent=USER_AGENT):
        self.endpoint = endpoint
        self.cache_dir = Path(cache_dir)
        self.retries, self.timeout_s, self.backoff_s = retries, timeout_s, backoff_s
        self.user_agent = user_agent
        self.requests_sent = 0

    def select(self, query: str) -> list[dict]:
        """Bindings of a SELECT query, each a dict of variable -> value string."""
        key = hashlib.sha256(f"{self.endpoint}\n{query}".encode()).hexdigest()[:24]
        cached = self.cache_dir / f"{key}.json"
        if cached.is_file():
            answer = json.loads(cached.read_text())
        else:
            answer = self._ask(query)
            write_json({"endpoint": self.endpoint, "query": query, "answer": answer}, cached)
            return _bindings(answer)
        return _bindings(answer["answer"])

    def _ask(self, query: str) -> dict:
        body = urllib.parse.urlencode({"query": query}).encode()
        headers = {
            "Accept": "application/sparql-results+json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": self.user_agent,
        }
        last_error, wait = None, 0.0
        for attempt in range(self.retries):
            if attempt:
                time.sleep(max(wait, self.backoff_s * 2 ** (attempt - 1)))
            request = urllib.request.Request(self.endpoint, data=body, headers=headers)
            self.requests_sent += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    body = response.read()
                return _json_answer(body, self.endpoint)
            except urllib.error.HTTPError as error:
                if error.code not in (429, 500, 502, 503, 504):
                    detail = error.read().decode(errors="replace")[:500]
                    raise WikidataError(
                        f"SPARQL endpoint {self.endpoint} refused a query ({error.code}): {detail}"
                    ) from None
                last_error, wait = error, _retry_after(error)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last_error = error
        raise WikidataError(f"SPARQL endpoint {self.endpoint} unreachable after {self.retries} tries: {last_error}")


def _retry_after(error: urllib.error.HTTPError, longest: float = 600.0) -> float:
    """Seconds the endpoint asked to wait (Retry-After, in seconds) before the next try; 0 if it did not say."""
    try:
        return min(float(error.headers.get("Retry-After", 0)), longest)
    except (TypeError, ValueError):  # an HTTP date: the back-off decides
        return 0.0


def _json_answer(body: bytes, endpoint: str) -> dict:
    """The SPARQL JSON results in an answer's body; anything else is a plain error."""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        start = body[:200].decode(errors="replace")
        if start.lstrip().startswith("{"):
            raise WikidataError(
                f"SPARQL endpoint {endpoint} answered with JSON that is cut off or malformed "
                f"({len(body)} bytes, beginning {start[:80]!r}); try again, or ask for less at once"
            ) from None
        raise WikidataError(
            f"SPARQL endpoint {endpoint} answered with something other than SPARQL JSON results "
            f"(it begins {start!r}); is the address its query endpoint?"
        ) from None
    if not isinstance(answer, dict) or "bindings" not in answer.get("results", {}):
        raise WikidataError(f"SPARQL endpoint {endpoint} answered JSON without results.bindings")
    return answer


def _bindings(answer: dict) -> list[dict]:
    return [{var: cell["value"] for var, cell in row.items()} for row in answer["results"]["bindings"]]


def _qid(iri: str) -> str:
    return iri[len(ENTITY) :]


def _values(var: str, qids) -> str:
    return f"VALUES ?{var} {{ {' '.join('wd:' + q for q in qids)} }}"


def fact_query(pid, classes, limit, offset) -> str:
    return (
        PREFIXES
        + f"""SELECT DISTINCT ?s ?o WHERE {{
  ?s wdt:{pid} ?o .
  ?s wdt:P31 ?sc . {_values("sc", classes)}
  ?o wdt:P31 ?oc . {_values("oc", classes)}
}} ORDER BY ?s ?o LIMIT {limit} OFFSET {offset}"""
    )


def member_query(cls, limit: int | None = None, at_least: int | None = None, counted: bool = False) -> str:
    """The members of a class with the most statements, most first: the `limit` first, or every
    one with at least `at_least`. As the authors ask (create_dataset.py 161-169), by
    `wikibase:statements`; `counted`: by the number of direct (truthy) statements, for an endpoint
    without `wikibase:statements` (a store loaded from a truthy dump)."""
    if counted:
        where = f'?item wdt:P31 wd:{cls} . ?item ?p ?o FILTER(STRSTARTS(STR(?p), "{DIRECT}"))'
        head, tail = "SELECT ?item (COUNT(*) AS ?n)", " GROUP BY ?item"
        tail += f" HAVING(COUNT(*) >= {at_least})" if at_least is not None else ""
    else:
        where = f"?item wdt:P31 wd:{cls} . ?item wikibase:statements ?n"
        where += f" FILTER(?n >= {at_least})" if at_least is not None else ""
        head, tail = "SELECT ?item ?n", ""
    limit_clause = f" LIMIT {limit}" if limit is not None else ""
    return PREFIXES + f"{head} WHERE {{ {where} }}{tail} ORDER BY DESC(?n) ?item{limit_clause}"


def entity_queries(qids, classes) -> dict[str, str]:
    items = _values("item", qids)
    return {
        "class": PREFIXES + f"SELECT ?item ?class WHERE {{ {items} {_values('class', classes)} ?item wdt:P31 ?class }}",
        "label": PREFIXES
        + f'SELECT ?item ?label WHERE {{ {items} ?item rdfs:label ?label FILTER(LANG(?label) = "en") }}',
        "alias": PREFIXES
        + f'SELECT ?item ?alias WHERE {{ {items} ?item skos:altLabel ?alias FILTER(LANG(?alias) = "en") }}',
        "sitelinks": PREFIXES + f"SELECT ?item ?n WHERE {{ {items} ?item wikibase:sitelinks ?n }}",
        "articles": PREFIXES
        + f"SELECT ?item (COUNT(?page) AS ?n) WHERE {{ {items} ?page schema:about ?item }} GROUP BY ?item",
        "statements": PREFIXES
        + f"SELECT ?item (COUNT(*) AS ?n) WHERE {{ {items} ?item ?p ?o "
        + f'FILTER(STRSTARTS(STR(?p), "{DIRECT}")) }} GROUP BY ?item',
    }


def extract_from_endpoint(
    client: SparqlClient, classes, relations, *, page_size=10_000, batch_size=200, ranked=2000, progress=None
):
    """Same tables as `wikidata.extract_from_dump`, asked of a SPARQL endpoint; `class_ranks` for
    the `ranked` most-stated members of each class (the dump ranks every member)."""
    class_ids = list(classes)
    facts = set()
    for pid in relations:
        offset = 0
        while True:
            rows = client.select(fact_query(pid, class_ids, page_size, offset))
            facts.update((_qid(r["s"]), pid, _qid(r["o"])) for r in rows if r["o"].startswith(ENTITY))
            if len(rows) < page_size:
                break
            offset += page_size
        if progress is not None:
            progress(f"{pid}: {len(facts)} facts so far")

    if not facts:
        raise WikidataError(
            f"SPARQL endpoint {client.endpoint} has no facts of the config's relations between items of its "
            "entity_types; check that the endpoint holds Wikidata, and the relations and entity_types in config"
        )
    qids = sorted({f[0] for f in facts} | {f[2] for f in facts}, key=lambda q: int(q[1:]))
    found = {
        q: {"classes": [], "label": "", "aliases": set(), "sitelinks": None, "articles": 0, "statements": 0}
        for q in qids
    }
    for start in range(0, len(qids), batch_size):
        answers = {
            name: client.select(q) for name, q in entity_queries(qids[start : start + batch_size], class_ids).items()
        }
        for r in answers["class"]:  # in the endpoint's order: an item's first row names its type
            found[_qid(r["item"])]["classes"].append(_qid(r["class"]))
        for r in answers["label"]:
            found[_qid(r["item"])]["label"] = r["label"]
        for r in answers["alias"]:
            found[_qid(r["item"])]["aliases"].add(r["alias"])
        for r in answers["sitelinks"]:
            found[_qid(r["item"])]["sitelinks"] = int(r["n"])
        for r in answers["articles"]:
            found[_qid(r["item"])]["articles"] = int(r["n"])
        for r in answers["statements"]:
            found[_qid(r["item"])]["statements"] = int(r["n"])
        if progress is not None:
            progress(f"entities: {min(start + batch_size, len(qids))}/{len(qids)}")

    ranks = class_ranks(*_members(client, class_ids, ranked, progress))
    entities = [
        (q, e["label"], e["aliases"], e["classes"], _popularity(e), e["statements"], ranks.get(q, {}))
        for q, e in found.items()
    ]
    return normalize(entities, facts, classes)


def _members(client, class_ids, ranked: int, progress=None):
    """(class -> member qids, qid -> statements) for the `ranked` most-stated members of each class
    and any tied with the last of them: enough to rank the study's bridge entities (each class's
    `dataset.bridges_per_type` first) without reading millions of members, as the dump source does."""
    members, statements = {}, {}
    for cls in class_ids:
        counted = False
        rows = client.select(member_query(cls, limit=ranked))
        if not rows:  # no wikibase:statements on this endpoint: count the direct statements
            counted = True
            rows = client.select(member_query(cls, limit=ranked, counted=True))
        if len(rows) == ranked:  # the members tied with the last one, whatever order the endpoint gives
            last = min(int(r["n"]) for r in rows)
            rows = client.select(member_query(cls, at_least=last, counted=counted))
        members[cls] = []
        for r in rows:
            if r["item"].startswith(ENTITY + "Q"):
                qid = _qid(r["item"])
                members[cls].append(qid)
                statements[qid] = int(r["n"])
        if progress is not None:
            progress(f"{cls}: {len(members[cls])} most-stated members ranked")
    return members, statements


def _popularity(item: dict) -> int:
    """wikibase:sitelinks where the endpoint has it, else the number of schema:about sitelinks (as the dump)."""
    return item["sitelinks"] if item["sitelinks"] is not None else item["articles"]


def verify_tables(client: SparqlClient, entities, facts, classes, batch_size=200) -> dict[str, list]:
    """What an endpoint says differently from the tables: labels, study classes, missing facts.

    Returns {"label": [(qid, ours, theirs)], "classes": [(qid, ours, theirs)], "missing_fact": [(s, pid, o)]}.
    """
    class_ids = list(classes)
    found = {"label": [], "classes": [], "missing_fact": []}
    rows = list(entities[["qid", "label", "classes"]].itertuples(index=False))
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        queries = entity_queries([r.qid for r in batch], class_ids)
        labels = {_qid(r["item"]): r["label"] for r in client.select(queries["label"])}
        their_classes = {}
        for r in client.select(queries["class"]):
            their_classes.setdefault(_qid(r["item"]), set()).add(_qid(r["class"]))
        for qid, label, ours in batch:
            if labels.get(qid, "") != label:
                found["label"].append((qid, label, labels.get(qid, "")))
            theirs = their_classes.get(qid, set())
            if not set(ours.split("|")) <= theirs:
                found["classes"].append((qid, ours, "|".join(sorted(theirs))))
    triples = list(facts[["subject", "relation", "object"]].itertuples(index=False, name=None))
    for start in range(0, len(triples), batch_size):
        batch = triples[start : start + batch_size]
        values = " ".join(f"(wd:{s} wdt:{p} wd:{o})" for s, p, o in batch)
        query = PREFIXES + f"SELECT ?s ?p ?o WHERE {{ VALUES (?s ?p ?o) {{ {values} }} ?s ?p ?o }}"
        present = {(_qid(r["s"]), r["p"][len(DIRECT) :], _qid(r["o"])) for r in client.select(query)}
        found["missing_fact"] += [t for t in batch if t not in present]
    return found
