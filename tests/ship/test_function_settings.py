"""Each function reads its own settings, all required, from its own template Environment.

The local stack puts the union of every function's environment into one process, so a function
whose Environment lacks a variable it reads would still start there; these tests hold each function
to its own Environment, as in the cloud.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from types import ModuleType

import pytest

from local.template import FunctionSpec
from product_export.settings import FunctionSettings, variables
from tests.ship.support import (
    FUNCTIONS,
    LAYER_PACKAGE,
    POWERTOOLS,
    REGION,
    code_roots,
    cold_start,
    lambda_environment,
    own_environments,
    own_variables,
)

SETTINGS_MODULE = LAYER_PACKAGE / "settings.py"
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb"}


def _import_handler(
    spec: FunctionSpec, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    """The handler module imported into this process (its cold start) under ``environment``."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    module_name, _, _ = spec.handler.rpartition(".")
    file = spec.code_uri / (module_name.replace(".", "/") + ".py")
    name = f"settings_of_{spec.logical_id}"
    loaded = importlib.util.spec_from_file_location(name, file)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.syspath_prepend(str(spec.code_uri))
    loaded.loader.exec_module(module)
    return module


@pytest.fixture
def every_variable() -> dict[str, str]:
    """The union of the functions' environments, as the local stack sets it (every handler starts)."""
    union: dict[str, str] = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    for environment in own_environments().values():
        union |= environment
    return union


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[spec.logical_id for spec in FUNCTIONS])
def test_the_settings_a_function_requires_are_all_in_its_own_environment(
    spec: FunctionSpec, every_variable: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _import_handler(spec, every_variable, monkeypatch)
    settings = getattr(module, "settings", None)
    required = set() if settings is None else set(variables(type(settings)))
    assert settings is None or isinstance(settings, FunctionSettings)
    own = set(own_environments()[spec.logical_id])
    assert required - own == set(), f"{spec.logical_id}'s Environment lacks variables its settings require"
    # And nothing else: a variable no setting of the function reads belongs to another function.
    unread = {name for name in own - required if not name.startswith(POWERTOOLS)}
    assert unread == set(), f"{spec.logical_id}'s Environment sets variables its settings do not read"


def test_every_function_but_the_openapi_one_reads_settings() -> None:
    reading = {spec.logical_id for spec in FUNCTIONS if own_variables(spec.logical_id)}
    assert {spec.logical_id for spec in FUNCTIONS} - reading == {"OpenApiFunction"}


# Each function that reads settings with one of its variables removed (a different one from
# function to function, so every kind is removed somewhere: names, ARNs, numbers, flags). A cold
# start takes about two seconds; the test above holds every other variable to the same settings.
WITHOUT_ONE = [
    pytest.param(spec, names[index % len(names)], id=f"{spec.logical_id}-{names[index % len(names)]}")
    for index, (spec, names) in enumerate((spec, own_variables(spec.logical_id)) for spec in FUNCTIONS)
    if names
]


@pytest.mark.parametrize(("spec", "removed"), WITHOUT_ONE)
def test_a_variable_missing_from_the_environment_fails_the_cold_start_naming_it(
    spec: FunctionSpec, removed: str
) -> None:
    environment = dict(own_environments()[spec.logical_id])
    del environment[removed]
    started = cold_start(spec, lambda_environment(spec, environment))
    assert started.returncode != 0, f"{spec.logical_id} started without {removed}"
    assert started.error.startswith("product_export.settings.SettingsError: "), started.stderr
    missing = re.search(r"missing: ([A-Z0-9_]+(?:, [A-Z0-9_]+)*)", started.error)
    assert missing is not None and missing[1].split(", ") == [removed], started.error


def test_no_code_but_the_settings_reads_the_environment() -> None:
    """Names and tunables reach the adapters through the handlers' settings only."""
    readers = []
    for root in code_roots():
        for file in root.rglob("*.py"):
            if file == SETTINGS_MODULE:
                continue
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT) or (
                    isinstance(node, ast.ImportFrom) and {a.name for a in node.names} & ENVIRONMENT
                ):
                    readers.append(f"{file}:{node.lineno}")
    assert readers == []
