"""What each benchmark prints after timing two ways: each way's rate, their ratio, whether they agree."""


def print_comparison(timings: dict, outputs: dict, count: int, unit: str, detail: str = "") -> None:
    """`timings` and `outputs` hold the baseline first, then the faster way, under the same names."""
    baseline, faster = timings
    for name, seconds in timings.items():
        print(f"{name:>13}: {count / seconds:8.2f} {unit}/s ({count} {unit}{detail}, {seconds:.2f} s)")
    same = sum(a == b for a, b in zip(outputs[baseline], outputs[faster], strict=True))
    speedup = timings[baseline] / timings[faster]
    print(f"{faster} / {baseline}: {speedup:.2f}x faster; {same}/{count} generations identical")
