"""The file side of the one rules loader: which files, read once, parsed once, told apart by kind.

Reward policies and evaluation rules share the folders (the project's `projections/policies/`,
then every folder of `ZHAOSHANG_POLICY_PATH`) and everything about files: discovery (`*.yaml`,
`*.yml`, by name, each folder once; a path may name a single file), YAML parsing (a number with
a point is a `Decimal`, a duplicate key is refused), and the one error type, `PolicyError` (file,
path inside it, reason) gathered in a `PolicyFileError`. Each file is read and parsed once here
and handed, by its top-level `kind` (`evaluation`, else a reward policy), to the one validator
of that kind (`loader.policy_from_data`, `evaluation_rules.rules_from_data`); no validator
looks at another's files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

BUILTIN_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
EVALUATION_KIND = "evaluation"
POLICY_KIND = "policy"


# ---- the one error type ------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyError:
    """One reason a rules file (reward policy or evaluation rules) was refused: which file,
    where in it, and why."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "reason": self.reason}


class PolicyFileError(ValueError):
    """A rules file that did not validate; `errors` holds every reason found."""

    def __init__(self, errors: Iterable[PolicyError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def unknown_key(key: object, allowed: Iterable[str]) -> str:
    """The one wording of an unknown key's refusal, for every construct of every kind."""
    return f"unknown key {key!r}; allowed here: {', '.join(sorted(allowed))}"


def kind_of(value: Any) -> str:
    """A value's kind in words, for refusals (`expected a mapping, found a list`)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r}"


# ---- YAML: decimals, not floats; duplicate keys refused -----------------------------------------


class _RulesYAMLLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` (nothing but plain data) where a number with a point is a Decimal.

    A float would turn 0.001 or 12345678901234567.89 into something else; a duplicate key would
    silently keep only the last value.
    """


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return float(loader.construct_yaml_float(node))


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_RulesYAMLLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_RulesYAMLLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_RulesYAMLLoader)


# ---- one file, read once -----------------------------------------------------------------------

# A file that is not even valid YAML is still told apart by its top-level lines, so a broken
# evaluation-rules edit is reported as evaluation rules (under its id and policy), once.
_KIND_LINE = re.compile(r"""^kind:\s*["']?([A-Za-z_]+)["']?\s*(#.*)?$""", re.MULTILINE)
_RAW_KEY = re.compile(r"""^(id|policy):\s*["']?([A-Za-z0-9._-]+)""", re.MULTILINE)


@dataclass(frozen=True)
class RulesFile:
    """One file as read: its kind, its parsed data (or why it could not be parsed), the raw
    id and policy it names (for listing a refused file), and the SHA-256 of its bytes."""

    file: Path
    kind: str  # policy | evaluation
    data: Any
    errors: tuple[PolicyError, ...]
    raw_id: str | None
    raw_policy: str | None
    sha256: str

    def parsed(self) -> Any:
        """The data, or the read/parse refusal as a `PolicyFileError`."""
        if self.errors:
            raise PolicyFileError(self.errors)
        return self.data


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_rules_file(path: str | Path) -> RulesFile:
    """Read and parse one file; a file that cannot be read or parsed comes back with its
    refusal (`line L, column C` where YAML says so) rather than raising."""
    file = Path(path)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        error = PolicyError(str(file), "(file)", f"cannot read: {e}")
        return RulesFile(file, POLICY_KIND, None, (error,), None, None, "")
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(e, "problem", None) or str(e)
        error = PolicyError(str(file), where, f"not valid YAML: {problem}")
        said = _KIND_LINE.search(text)
        kind = EVALUATION_KIND if said and said[1] == EVALUATION_KIND else POLICY_KIND
        raw_keys = {m[1]: m[2] for m in _RAW_KEY.finditer(text)}
        return RulesFile(
            file, kind, None, (error,), raw_keys.get("id"), raw_keys.get("policy"), sha256
        )
    mapping = data if isinstance(data, dict) else {}
    kind = EVALUATION_KIND if mapping.get("kind") == EVALUATION_KIND else POLICY_KIND
    return RulesFile(
        file,
        kind,
        data,
        (),
        _text_or_none(mapping.get("id")),
        _text_or_none(mapping.get("policy")),
        sha256,
    )


# ---- discovery ---------------------------------------------------------------------------------


def policy_paths(value: str = "") -> list[Path]:
    """The project's own folder, then each folder of `value` (the `ZHAOSHANG_POLICY_PATH`
    setting, `:`-separated)."""
    return [BUILTIN_POLICY_DIR] + [Path(p) for p in value.split(":") if p.strip()]


def rule_folders(
    paths: Iterable[str | Path] | None = None, *, include_builtin: bool = True
) -> list[Path]:
    """The folders read, in order: the project's own (unless `include_builtin` is false), then
    `paths` (the composition root passes the folders of `ZHAOSHANG_POLICY_PATH`)."""
    given = [Path(p) for p in paths] if paths is not None else []
    return [BUILTIN_POLICY_DIR, *given] if include_builtin else given


@dataclass(frozen=True)
class MissingFolder:
    """A folder named in the settings that is not there (listed as refused, never fatal)."""

    folder: Path

    @property
    def error(self) -> PolicyError:
        return PolicyError(str(self.folder), "(folder)", "not found")


def discover(folders: Iterable[Path]) -> Iterator[Path | MissingFolder]:
    """Every `*.yaml`/`*.yml` file of `folders`, folder by folder, files by name; a folder
    named twice is read once; a path may also name a single file."""
    seen: set[Path] = set()
    for folder in folders:
        resolved = folder.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        if folder.is_file():
            yield folder
        elif folder.is_dir():
            yield from sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            yield MissingFolder(folder)
