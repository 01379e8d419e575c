"""Every file the project writes appears whole or not at all, even when the writer is SIGKILLed."""

import subprocess
import sys
import time

import pandas as pd

from multihop.files import write_parquet

ROWS = 200_000
WRITER = f"""
import sys
import pandas as pd
from multihop.files import write_parquet
rows = pd.DataFrame({{"text": [f"row {{i}}" for i in range({ROWS})]}})
for version in range(10_000):  # the same file written again and again, each time whole
    write_parquet(rows.assign(version=version), sys.argv[1])
    print(version, flush=True)
"""


def test_a_writer_killed_at_any_moment_leaves_a_whole_file_or_the_last_one(tmp_path):
    target = tmp_path / "table.parquet"
    caught_mid_write = 0
    for delay in (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32):
        target.unlink(missing_ok=True)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, target], stdout=subprocess.PIPE, text=True)
        writer.stdout.readline()  # the first write is done: kill it during a later one, or between two
        time.sleep(delay)
        writer.kill()
        writer.wait()
        table = pd.read_parquet(target)  # always there after the first write, and whole
        assert len(table) == ROWS and table["version"].nunique() == 1
        assert table["text"].iloc[-1] == f"row {ROWS - 1}"
        caught_mid_write += any(tmp_path.glob(".table.parquet.tmp*"))
    assert caught_mid_write >= 2  # some kills did land in the middle of a write
    write_parquet(pd.DataFrame({"version": [0]}), target)  # the next write clears what they left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]
