"""A shard's finished cases on disk: kept for the same inputs, discarded for any other."""

import pandas as pd

from multihop.analyses.finished import FinishedCases, fingerprint


def test_finished_cases_survive_a_rerun_with_the_same_inputs_only(tmp_path):
    digest = fingerprint(analysis="knockout", settings={"seed": 0}, code="c0de")
    rows = pd.DataFrame({"id": ["a", "a"], "layer": [0, 1], "generation": ["Paris", "Rome"]})
    first = FinishedCases(tmp_path / "shard.unfinished", digest)
    first.put(0, rows)
    assert first.has(0) and not first.has(1) and first.count() == 1

    again = FinishedCases(tmp_path / "shard.unfinished", digest)  # a rerun: the case is kept
    pd.testing.assert_frame_equal(again.get(0), rows)

    changed = fingerprint(analysis="knockout", settings={"seed": 0}, code="c0de2")  # the code's meaning changed
    assert changed != digest
    assert FinishedCases(tmp_path / "shard.unfinished", changed).count() == 0
    assert fingerprint(analysis="knockout", settings={"seed": 1}, code="c0de2") != changed
