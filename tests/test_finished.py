"""A shard's finished cases on disk: kept for the same inputs, discarded for any other."""

import pandas as pd

from multihop.analyses.finished import FinishedCases, fingerprint


def test_finished_cases_survive_a_rerun_with_the_same_inputs_only(tmp_path):
    code = tmp_path / "module.py"
    code.write_text("x = 1\n")
    digest = fingerprint(analysis="knockout", settings={"seed": 0}, files=[code])
    rows = pd.DataFrame({"id": ["a", "a"], "layer": [0, 1], "generation": ["Paris", "Rome"]})
    first = FinishedCases(tmp_path / "shard.unfinished", digest)
    first.put(0, rows)
    assert first.has(0) and not first.has(1) and first.count() == 1

    again = FinishedCases(tmp_path / "shard.unfinished", digest)  # a rerun: the case is kept
    pd.testing.assert_frame_equal(again.get(0), rows)

    code.write_text("x = 2\n")  # the code changed: the stored case no longer counts
    changed = fingerprint(analysis="knockout", settings={"seed": 0}, files=[code])
    assert changed != digest
    assert FinishedCases(tmp_path / "shard.unfinished", changed).count() == 0
    assert fingerprint(analysis="knockout", settings={"seed": 1}, files=[code]) != changed

    moved = tmp_path / "elsewhere" / "module.py"  # the same bytes in another checkout count the same
    moved.parent.mkdir()
    moved.write_text("x = 2\n")
    assert fingerprint(analysis="knockout", settings={"seed": 0}, files=[moved]) == changed
