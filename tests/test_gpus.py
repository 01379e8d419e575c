"""Which GPUs a model job takes: the bookkeeping, on CPU, with GPUs that are only numbers."""

import multiprocessing
import os
import signal
import time

from multihop.models.gpus import claim, gpu_count


def _hold(folder, count, available, seconds, results):
    with claim(count, available, folder, wait=0.05) as indices:
        start = time.monotonic()
        time.sleep(seconds)
        results.put((tuple(indices), start, time.monotonic()))


def test_jobs_side_by_side_never_share_a_gpu(tmp_path):
    """Six jobs of one GPU each on a machine with two: two at a time, each on its own GPU."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    jobs = [context.Process(target=_hold, args=(tmp_path, 1, 2, 0.4, results)) for _ in range(6)]
    for job in jobs:
        job.start()
    held = [results.get(timeout=60) for _ in jobs]
    for job in jobs:
        job.join()
    assert {indices for indices, _, _ in held} == {(0,), (1,)}
    for a, (indices_a, start_a, end_a) in enumerate(held):
        for indices_b, start_b, end_b in held[a + 1 :]:
            if start_a < end_b and start_b < end_a:  # at the same time: on different GPUs
                assert not set(indices_a) & set(indices_b)
    starts = sorted(start for _, start, _ in held)
    assert starts[2] - starts[0] >= 0.35  # the third job waited for a GPU to come free


def test_a_killed_job_frees_its_gpus(tmp_path):
    """A job SIGKILLed while holding two of three GPUs: the next job finds all three free."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    job = context.Process(target=_hold, args=(tmp_path, 2, 3, 60, results))
    job.start()
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("gpu*.lock"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    with claim(1, 3, tmp_path, wait=0.05) as indices:
        assert indices == [2]  # the one the running job does not hold
    os.kill(job.pid, signal.SIGKILL)
    job.join()
    with claim(3, 3, tmp_path, wait=0.05) as indices:
        assert indices == [0, 1, 2]


def test_gpus_per_job_default_to_the_device():
    assert gpu_count({"device": "cpu", "resources": {"gpus": None}}) == 0
    assert gpu_count({"device": "auto", "resources": {"gpus": None}}) == 1
    assert gpu_count({"device": "cuda", "resources": {"gpus": 4}}) == 4


def test_more_gpus_than_the_machine_has_is_a_plain_error(tmp_path):
    import pytest

    from multihop.errors import UserError

    with pytest.raises(UserError, match=r"asks for 3 GPU\(s\) \(the model's resources.gpus\) and this machine has 2"):
        with claim(3, 2, tmp_path):
            pass
