"""The config checked against its schema, with one line per mistake instead of the schema dumped.

Snakemake's own validation (which also fills in the defaults) runs after this, on a config that
passes; this only words the first mistake so that it names the key and what it should be. The
schema is schemas/config.schema.yaml with the settings that the catalog's analyses add
(`Analysis.adds`): a new analysis declares a new setting once, in its entry.

Also which run a config makes (its name, and so its folder results/{run}/), and where a path of
the config that ships with the workflow is when the run is elsewhere (--directory).
"""

import contextlib
import copy
import os
import re
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml

from multihop.errors import UserError

# the workflow's own config (the study's settings), in the folder of its Snakefile
OWN_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
# a run's name when no config file names it: the embedded default's (not "study", which
# configs/study.yaml's runs are named)
DEFAULT_RUN = "default"
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # as the schema's `run`

# what an id of each pattern is, for the message
PATTERNS = {
    "^Q[0-9]+$": "a Wikidata item id (Q and digits)",
    "^P[0-9]+$": "a Wikidata property id (P and digits)",
    RUN_NAME.pattern: "a folder name (letters, digits, . _ + -)",
}


def _where(path) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".") or "the top"


def _explain(error: jsonschema.ValidationError) -> str:
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties" and error.schema.get("patternProperties"):
        known = set(error.schema.get("properties", {}))
        keys = [k for k in error.instance if k not in known]
        for pattern, meaning in PATTERNS.items():
            if pattern in error.schema["patternProperties"]:
                bad = [k for k in keys if not re.search(pattern, k)]
                return f"{where}: {', '.join(map(repr, bad))} is not {meaning}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{where}: {error.message}; the keys allowed here are {', '.join(allowed)}"
    if error.validator == "pattern" and "{}" in error.schema["pattern"]:
        return f"{where}: {error.instance!r} needs exactly one {{}} where the entity goes"
    if error.validator == "pattern":
        pattern = error.schema["pattern"]
        return f"{where}: {error.instance!r} is not {PATTERNS.get(pattern, 'of the form ' + pattern)}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {', '.join(map(str, error.schema['enum']))}"
    if error.validator == "type":
        wanted = error.schema["type"]
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{where}: {error.instance!r} is not of type {wanted}"
    return f"{where}: {error.message}"


def schema(path, added: dict | None = None) -> dict:
    """The config's schema: the file at `path`, with `added` (name -> JSON schema, whose default
    fills it in where the config is silent: the settings the catalog's analyses add,
    multihop.analyses.catalog.added_settings) in the `analyses` section."""
    with open(path) as file:
        out = yaml.safe_load(file)
    analyses = out["properties"]["analyses"]["properties"]
    clash = sorted(set(analyses) & set(added or {}))
    if clash:
        raise ValueError(f"an analysis adds the setting {', '.join(clash)}, which the config already has")
    analyses.update(copy.deepcopy(added or {}))
    return out


@contextlib.contextmanager
def schema_file(path, added: dict | None = None):
    """`schema(path, added)` written to a temporary file for the block (Snakemake's validate reads a file)."""
    handle, name = tempfile.mkstemp(suffix=".yaml", prefix="config.schema.")
    try:
        with os.fdopen(handle, "w") as file:
            yaml.safe_dump(schema(path, added), file)
        yield name
    finally:
        os.unlink(name)


def check(config: dict, schema_path) -> None:
    """Raise a UserError naming the config's first mistake, if it has one (`schema_path`: a
    schema file, as `schema_file` writes it)."""
    with open(schema_path) as file:
        schema = yaml.safe_load(file)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        hint = ""
        if _text_of_another_type(error.instance):
            hint = "; `--config` passes values inside a section as text: give them in a YAML file with --configfile"
        raise UserError(f"config: {_explain(error)}{hint} (see schemas/config.schema.yaml)")


def _text_of_another_type(value) -> bool:
    """Whether `value` is text that YAML reads as a number, a boolean or null (as `--config a={b: 5}` leaves 5)."""
    if not isinstance(value, str):
        return False
    try:
        return not isinstance(yaml.safe_load(value), str)
    except yaml.YAMLError:
        return False


def run_name(run, configfiles, own=OWN_CONFIG) -> str:
    """The run's name: `run` where a config sets it; else the names (stems) of the config files
    given on the command line, the workflow's own (`own`) left out, joined by "+"
    (configs/llama2-7b.yaml configs/our-rules.yaml: llama2-7b+our-rules); with none, "default"."""
    if run is not None:
        return str(run)
    own = Path(own).resolve()
    name = "+".join(Path(path).stem for path in configfiles if Path(path).resolve() != own) or DEFAULT_RUN
    if not RUN_NAME.match(name):
        raise UserError(
            f"config: the run's name {name!r}, from its config files' names, is not a folder name "
            "(letters, digits, . _ + -); name the run: `run: NAME` in a config file or --config run=NAME"
        )
    return name


def shipped(path: str, basedir) -> str:
    """A path of the config as the run finds it: relative to the working directory, else (a file
    that ships with the workflow, such as the embedded Wikidata excerpt, in a run elsewhere with
    --directory) in the workflow's folder `basedir`."""
    beside = Path(basedir) / path
    if Path(path).is_absolute() or os.path.exists(path) or not beside.exists():
        return path
    return str(beside)


def run_folder(args) -> str:
    """results/{run} of the run that `snakemake *args` makes: its name from the config files and
    `--config` the arguments give (the workflow's config.yaml first), as the workflow names it."""
    from snakemake.cli import get_argument_parser, parse_config
    from snakemake.utils import update_config

    known, _ = get_argument_parser().parse_known_args(args)
    settings = {}
    for path in [OWN_CONFIG, *known.configfile]:
        update_config(settings, yaml.safe_load(Path(path).read_text()) or {})
    update_config(settings, parse_config(known.config))
    return f"results/{run_name(settings.get('run'), known.configfile)}"


if __name__ == "__main__":  # for the Makefile: python -m multihop.configuration [snakemake's arguments]
    print(run_folder(sys.argv[1:]))
