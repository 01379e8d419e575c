"""The engine's self-check, per model: what each job recomputed on the reference path
(multihop/engine/selfcheck.py) in one table, and the line the report shows."""

import pandas as pd

COLUMNS = ["job", "checked", "identical", "promised", "device", "dtype", "seconds", "job_seconds", "first_difference"]


def check_table(records: dict[str, dict]) -> pd.DataFrame:
    """One row per job that ran the model (`records`: job name -> its record); jobs without cases
    (an analysis turned off, more shards than cases) are left out. Projection generates nothing:
    its rows check none."""
    rows = [{"job": job, **record} for job, record in records.items() if "device" in record]
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["share_of_job"] = table["seconds"] / table["job_seconds"]
    return table


def check_line(model: str, table: pd.DataFrame) -> str:
    """ "<model>: the engine agreed with transformers' generate on 96 of 96 sampled generations on cpu (float32)"."""
    if table.empty or not table["checked"].sum():
        return f"{model}: the engine's self-check did not run (engine.self_check: 0, or the reference path)"
    where = ", ".join(
        sorted({f"{device} ({dtype})" for device, dtype in zip(table["device"], table["dtype"], strict=True)})
    )
    identical, checked = int(table["identical"].sum()), int(table["checked"].sum())
    return (
        f"{model}: the engine agreed with transformers' generate on {identical} of {checked} sampled "
        f"generations, in {int((table['checked'] > 0).sum())} jobs, on {where}"
    )
