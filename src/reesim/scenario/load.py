"""Reading scenarios: YAML, ``extends:`` resolution, validation with YAML paths, JSON Schema."""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reesim.errors import InputError, suggest
from reesim.scenario.spec import Scenario
from reesim.yamlsafe import join_problems, load_yaml, read_text_file, require_mapping, short

MERGED_MAPPINGS = ("horizon", "world", "dynamics", "uncertainty")


#: Longest chain of ``extends`` (a scenario, its parent, its grandparent, ...).
MAX_EXTENDS = 20


def shipped(subfolder: str = "") -> dict[str, str]:
    """Shipped names and YAML text of ``src/reesim/scenarios[/subfolder]/*.yaml`` (scenarios, games, episodes)."""
    folder = resources.files("reesim").joinpath("scenarios", *([subfolder] if subfolder else []))
    return {
        p.name[: -len(".yaml")]: p.read_text(encoding="utf-8")
        for p in folder.iterdir()
        if p.name.endswith(".yaml")
    }


def _local(path: Path, ref: str, ships: dict[str, str]) -> bool:
    """Whether ``ref`` names the local ``path`` rather than a shipped file: a folder that bears a
    shipped name (the --out folder of `reesim run baseline --out baseline`) does not hide it."""
    return path.exists() and not (path.is_dir() and ref in ships)


def _read(
    ref: str, base: Path | None, shipped_only: bool = False
) -> tuple[dict[str, Any], str, Path | None, str]:
    """Raw mapping of a scenario given as a shipped name or a path.

    A relative path is looked up next to the file that extends it (``base``) first, then in
    the working directory. With ``shipped_only`` (text from a web request) no file is read:
    only shipped names are accepted. Returns (data, label for messages, folder, identity for
    loop checks).
    """
    ships = shipped()
    path = Path(ref)
    candidates = ([base / path] if base is not None and not path.is_absolute() else []) + [path]
    found = None if shipped_only else next((c for c in candidates if _local(c, ref, ships)), None)
    if found is not None:
        text, label, folder, ident = (
            read_text_file(found),
            found.name,
            found.parent,
            str(found.resolve()),
        )
    elif ref in ships:
        text, label, folder, ident = ships[ref], f"{ref} (shipped)", None, f"shipped:{ref}"
    elif shipped_only:
        raise InputError(
            f"scenario '{ref}': only shipped scenario names are accepted here (no files); "
            + suggest(ref, ships, what="shipped scenario")
        )
    else:
        raise InputError(
            f"scenario '{ref}' is neither a file nor a shipped scenario; "
            + suggest(ref, ships, what="shipped scenario")
        )
    data = require_mapping(
        load_yaml(text, label, dates_as_strings=True), label, "scenario", Scenario.model_fields
    )
    return data, label, folder, ident


def load_model(ref: str | Path, kind: str, subfolder: str, model: type) -> tuple[Any, Path | None]:
    """A pydantic ``model`` read from a YAML path or a name shipped in ``scenarios/<subfolder>``.

    Returns the validated model and the folder relative paths inside it are read from (None
    for a shipped file). Errors name the file, the YAML path, the value and what is allowed.
    """
    path = Path(ref)
    ships = shipped(subfolder)
    if _local(path, str(ref), ships):
        text, label, folder = read_text_file(path), path.name, path.parent
    elif str(ref) in ships:
        text, label, folder = ships[str(ref)], f"{ref} (shipped {kind})", None
    else:
        raise InputError(
            f"{kind} '{ref}' is neither a file nor a shipped {kind}; "
            + suggest(str(ref), ships, what=f"shipped {kind}")
        )
    data = require_mapping(load_yaml(text, label, dates_as_strings=True), label, kind, model.model_fields)
    try:
        return model.model_validate(data), folder
    except ValidationError as exc:
        raise InputError(format_errors(exc, label, None)) from None


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(parent)
    for key, value in child.items():
        if key == "extends":
            continue
        if key in MERGED_MAPPINGS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "instruments" and isinstance(value, list):
            named = {
                i.get("name"): k
                for k, i in enumerate(out.get("instruments", []))
                if isinstance(i, dict) and i.get("name")
            }
            merged = list(out.get("instruments", []))
            for inst in value:
                name = inst.get("name") if isinstance(inst, dict) else None
                if name in named:
                    merged[named[name]] = inst
                else:
                    merged.append(inst)
            out["instruments"] = merged
        else:
            out[key] = value
    return out


def resolve(
    ref: str,
    base: Path | None = None,
    _seen: tuple[str, ...] = (),
    _labels: tuple[str, ...] = (),
    *,
    shipped_only: bool = False,
    _given: tuple[dict[str, Any], str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The scenario's mapping with every ``extends:`` applied, and the chain of files read.

    ``_given`` is an already-read mapping and its label (a scenario sent as text); with
    ``shipped_only`` every ``extends`` must name a shipped scenario (no file is read).
    """
    if len(_seen) >= MAX_EXTENDS:
        raise InputError(
            f"{_labels[-1]}: 'extends' chain longer than {MAX_EXTENDS} files ({' -> '.join(_labels[:3])} -> ...)"
        )
    if _given is not None:
        data, label = _given
        folder, ident = None, f"given:{label}"
    else:
        data, label, folder, ident = _read(ref, base, shipped_only)
    if ident in _seen:
        raise InputError(f"{label}: 'extends' loops back to itself ({' -> '.join([*_labels, label])})")
    chain = [label]
    parent_ref = data.get("extends")
    if parent_ref:
        if not isinstance(parent_ref, str):
            raise InputError(f"{label}: extends: expected a scenario name or path, got {short(parent_ref)}")
        try:
            parent, parent_chain = resolve(
                parent_ref, folder, (*_seen, ident), (*_labels, label), shipped_only=shipped_only
            )
        except InputError as exc:
            if "is neither a file nor a shipped scenario" in str(exc) or "only shipped scenario" in str(exc):
                raise InputError(f"{label}: extends: {exc}") from None
            raise
        if "name" not in data:
            raise InputError(
                f"{label}: name: missing; a scenario that extends another needs its own name "
                f"(else it would be labelled like its parent, {parent.get('name')!r})"
            )
        data = _merge(parent, data)
        data["extends"] = parent_ref
        chain = parent_chain + chain
    return data, chain


def _path(loc: tuple) -> str:
    from reesim.scenario.spec import INSTRUMENT_TYPES

    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in INSTRUMENT_TYPES:
            continue  # the discriminator tag pydantic inserts in the location
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(loc: tuple, data: dict[str, Any] | None) -> list[str]:
    """Keys allowed at the mapping that holds ``loc[-1]`` (for 'unknown key' messages)."""
    from reesim.scenario import spec as S

    models = {"horizon": S.Horizon, "world": S.WorldChoice, "dynamics": S.Dynamics}
    by_type = S.INSTRUMENT_MODELS
    parent = [p for p in loc[:-1] if p not in by_type]
    model = S.Scenario
    if len(parent) == 1 and parent[0] in models:
        model = models[parent[0]]
    elif len(parent) == 2 and parent[0] == "instruments" and isinstance(parent[1], int) and data:
        try:
            model = by_type.get(data["instruments"][parent[1]].get("type"), model)
        except (KeyError, IndexError, AttributeError, TypeError):
            return []
    elif parent:
        return []
    return sorted(model.model_fields)


def format_errors(err: ValidationError, label: str, data: dict[str, Any] | None = None) -> str:
    """One line per problem: ``label: path: message (got value)``."""
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(tuple(e["loc"]), data)
            msg = (
                suggest(str(e["loc"][-1]), allowed, what="key", limit=40).removeprefix(
                    f"unknown key '{e['loc'][-1]}'"
                )
                if allowed
                else ""
            )
            msg = "unknown key" + (msg if msg else "")
        elif e["type"] == "union_tag_invalid":
            from reesim.scenario.spec import INSTRUMENT_TYPES

            msg = f"unknown instrument type; allowed: {', '.join(INSTRUMENT_TYPES)}"
        got = "" if e["type"] == "missing" else f" (got {short(e.get('input'))})"
        lines.append(f"{label}: {_path(tuple(e['loc']))}: {msg}{got}")
    return join_problems(lines)


def parse(data: dict[str, Any], label: str = "scenario") -> Scenario:
    """Validate a resolved scenario mapping."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_errors(exc, label, data)) from None
    seen: dict[str, int] = {}
    problems = []
    for k, inst in enumerate(scenario.instruments):
        if inst.name:
            if inst.name in seen:
                problems.append(
                    f"{label}: instruments[{k}].name: {short(inst.name)} is used twice (also instruments[{seen[inst.name]}].name); "
                    "names must be unique"
                )
            else:
                seen[inst.name] = k
    if problems:
        raise InputError("\n".join(problems))
    _warn_out_of_horizon(scenario, label)
    return scenario


class ScenarioWarning(UserWarning):
    """A scenario is valid but something in it has no effect."""


def _warn_out_of_horizon(scenario: Scenario, label: str) -> None:
    """Warn about instruments that are never in force within the horizon (they change nothing)."""
    import datetime as dt

    first, last = dt.date(scenario.horizon.start, 1, 1), dt.date(scenario.horizon.end, 12, 31)
    for k, inst in enumerate(scenario.instruments):
        if inst.start > last or (inst.end is not None and inst.end < first):
            warnings.warn(
                f"{label}: instruments[{k}] ({inst.name or inst.type}, {inst.start} to {inst.end or 'open'}) "
                f"is never in force within the horizon {scenario.horizon.start}-{scenario.horizon.end}: it changes nothing",
                ScenarioWarning,
                stacklevel=3,
            )


def load_scenario(ref: str | Path) -> Scenario:
    """Load a scenario from a path or a shipped name, resolving ``extends``."""
    data, chain = resolve(str(ref))
    return parse(data, chain[-1])


def load_scenario_text(text: str, label: str = "scenario", *, shipped_only: bool = True) -> Scenario:
    """A scenario sent as YAML (or JSON) text, e.g. in a web request.

    ``extends`` may name a shipped scenario; with ``shipped_only`` (the default) it may not
    name a file, so text from a request never reads the server's files. Errors are the same
    as :func:`load_scenario`'s (``label: path: message (got value)``).
    """
    data = require_mapping(
        load_yaml(text, label, dates_as_strings=True), label, "scenario", Scenario.model_fields
    )
    data, chain = resolve(label, shipped_only=shipped_only, _given=(data, label))
    return parse(data, chain[-1])


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (canonical JSON)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format (for editors)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "reesim scenario"
    return schema
