"""requirements.lock: what `make install` installs, exactly and by hash, agrees with pyproject.toml."""

import re
import tomllib

from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s*\\$")


def locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of every package in the lock."""
    pins, name = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"{name} pinned twice"
            pins[name] = (Version(match.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"requirements.lock: unexpected line {line!r} (only exact pins with hashes)")
    return pins


def test_every_locked_package_is_pinned_exactly_with_its_hashes():
    pins = locked()
    assert len(pins) > 100 and all(hashes >= 1 for _, hashes in pins.values())
    assert pins["torch"][0] == Version("2.13.0+cpu")  # the CPU build, never a CUDA one


def test_the_lock_satisfies_every_requirement_of_pyproject():
    """Fails when pyproject.toml and the lock disagree: run `make lock` after changing either."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    for text in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is in pyproject.toml but not in requirements.lock (run make lock)"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject.toml's {requirement} (run make lock)"
        )


def test_the_conda_environment_installs_the_same_lock():
    text = (ROOT / "environment.yml").read_text()
    assert "-r requirements.lock" in text and "python=3.11" in text
    assert not re.search(r"^\s*-\s*(torch|transformers|snakemake)\b", text, re.M)  # nothing pinned twice
