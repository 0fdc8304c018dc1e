"""What the shipping tests share: the template's functions with their own resolved environments, a
cold start of a handler as Lambda does it (the runtime's interpreter, the function's code and the
layer only), the modules the code imports and the layer's pins."""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from local.runner.interpreter import runtime_python
from local.runner.layer import build_layer, function_sys_path
from local.stack import FAKE_CREDENTIALS, embedded_stack
from local.template import REPO_ROOT, FunctionSpec, Template

LAYER = "SharedLayer"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "shared" / "requirements.txt"
DEV_REQUIREMENTS = REPO_ROOT / "requirements-dev.txt"
LAYER_PACKAGE = REPO_ROOT / "layers" / "shared" / "product_export"
FIRST_PARTY = "product_export"
REGION = "us-east-1"
# Variables Powertools reads itself (Globals): every function has them, no settings model reads them.
POWERTOOLS = "POWERTOOLS_"

TEMPLATE = Template.load()
FUNCTIONS = TEMPLATE.functions()
FUNCTION_IDS = [spec.logical_id for spec in FUNCTIONS]


@functools.cache
def own_environments() -> dict[str, dict[str, str]]:
    """Each function's own Environment (Globals' and its own variables), resolved as CloudFormation
    would on the embedded stack (the stack is gone again on return, and os.environ restored)."""
    with embedded_stack() as stack:
        return {spec.logical_id: stack.environment_of(spec.logical_id) for spec in FUNCTIONS}


def own_variables(logical_id: str) -> list[str]:
    """The names of the function's variables its code reads (all but Powertools' own), read from the
    template without resolving it."""
    names = TEMPLATE.function(logical_id).environment
    return sorted(name for name in names if not name.startswith(POWERTOOLS))


def lambda_environment(spec: FunctionSpec, own: Mapping[str, str]) -> dict[str, str]:
    """A cold start's whole environment: the function's own variables, the region, stand-in
    credentials, and the variables Lambda itself sets that change what an import does:
    ``LAMBDA_TASK_ROOT`` turns Powertools' tracer on (Tracing: Active), so the X-Ray SDK is
    imported and patches botocore, as in the cloud."""
    return {
        **own,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **FAKE_CREDENTIALS,
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
    }


# Run as `python3.13 -I -S -c COLD_START <sys.path as JSON> <module> <attribute>`: isolated (no
# PYTHON* variables, no user or site packages, nothing of the dev virtualenv), so until it sets
# sys.path it can import the standard library only.
COLD_START = r"""
import importlib, json, sys
paths, module_name, attribute = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
stdlib = [p for p in sys.path if p]
sys.path[:] = [*paths, *stdlib]
module = importlib.import_module(module_name)
handler = getattr(module, attribute)
files = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
print(json.dumps({
    "callable": callable(handler),
    "stdlib": stdlib,
    "files": {name: file for name, file in files.items() if file},
}))
"""


@dataclass(frozen=True)
class ColdStart:
    returncode: int
    stdout: str
    stderr: str
    sys_path: list[str]

    @property
    def result(self) -> dict[str, Any]:
        lines = self.stdout.strip().splitlines()
        parsed: dict[str, Any] = json.loads(lines[-1])
        return parsed

    @property
    def error(self) -> str:
        """The traceback's last line (the exception), or the whole output when there is none."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else self.stdout + self.stderr


def cold_start(spec: FunctionSpec, environment: Mapping[str, str]) -> ColdStart:
    """Imports ``spec``'s handler module as Lambda's runtime does, with only ``environment``."""
    python = runtime_python(spec.runtime)
    paths = [str(path) for path in function_sys_path(TEMPLATE, spec, python)]
    module, _, attribute = spec.handler.rpartition(".")
    done = subprocess.run(
        [python, "-I", "-S", "-c", COLD_START, json.dumps(paths), module, attribute],
        env=dict(environment),
        cwd=spec.code_uri,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return ColdStart(done.returncode, done.stdout, done.stderr, paths)


def layer_packages() -> Path:
    """The layer's requirements installed by the runtime's interpreter (the runner's cached build)."""
    built = build_layer(TEMPLATE.layer(LAYER).content_uri, runtime_python("python3.13"))
    assert built.packages is not None, "the layer has a requirements.txt"
    return built.packages


# --- what the code imports -------------------------------------------------------------------------


def code_roots() -> list[Path]:
    """The layer's package and every function's code directory."""
    return [LAYER_PACKAGE, *sorted({spec.code_uri for spec in FUNCTIONS})]


def imported_modules(roots: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level module -> the files that import it (absolute imports, ``TYPE_CHECKING`` ones too)."""
    found: dict[str, set[str]] = {}
    for root in roots:
        for file in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], set()).add(str(file.relative_to(REPO_ROOT)))
    return found


def first_party_modules() -> set[str]:
    """The layer's package and the modules beside each handler (its code directory's own)."""
    local = {FIRST_PARTY}
    for spec in FUNCTIONS:
        local |= {path.stem for path in spec.code_uri.glob("*.py")}
        local |= {path.name for path in spec.code_uri.iterdir() if (path / "__init__.py").is_file()}
    return local


@functools.cache
def stdlib_modules(python: str) -> frozenset[str]:
    """``sys.stdlib_module_names`` of the runtime's interpreter."""
    listed = subprocess.run(
        [python, "-I", "-S", "-c", "import json, sys; print(json.dumps(sorted(sys.stdlib_module_names)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return frozenset(json.loads(listed.stdout))


def third_party_imports() -> dict[str, set[str]]:
    """Top-level modules the code imports that are neither the runtime's stdlib nor first-party."""
    stdlib = stdlib_modules(runtime_python("python3.13")) | {"__future__"}
    first_party = first_party_modules()
    return {
        name: files
        for name, files in imported_modules(code_roots()).items()
        if name not in stdlib and name not in first_party
    }


# --- distributions and pins ----------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)\s*(#.*)?$")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file (no comments, no blank lines)."""
    lines = (line.split(" #", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(path: Path) -> dict[str, str]:
    """Canonical name -> pinned version; a line that is not ``name[extras]==version`` is an error."""
    pinned: dict[str, str] = {}
    for line in requirement_lines(path):
        match = _PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned with =="
        name = canonical(match[1])
        assert name not in pinned, f"{path.name}: {match[1]} is pinned twice"
        pinned[name] = match[3]
    return pinned


# Lambda's python3.13 on arm64: what `sam build` installs the layer's requirements for.
LAMBDA_PLATFORM = [
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.13",
]


def resolve_for_lambda(requirements: Path, report: Path) -> dict[str, str]:
    """Canonical name -> version of everything pip would install from ``requirements`` for Lambda's
    arm64 python3.13 (wheels only, as ``sam build`` fetches them), resolved by the runtime's
    interpreter without installing anything (``--dry-run --report``)."""
    resolved = subprocess.run(
        [
            runtime_python("python3.13"),
            "-I",
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            *LAMBDA_PLATFORM,
            "--report",
            str(report),
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resolved.returncode == 0, f"pip cannot resolve {requirements}:\n{resolved.stderr[-3000:]}"
    document = json.loads(report.read_text(encoding="utf-8"))
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in document["install"]}


def installed(directory: Path) -> dict[str, str]:
    """Canonical name -> version of each distribution installed in ``directory``."""
    return {
        canonical(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[str(directory)])
    }


def modules_of(directory: Path) -> dict[str, str]:
    """Top-level importable name -> the canonical name of the distribution installed in ``directory``
    that provides it (from its RECORD)."""
    provided: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(directory)]):
        for file in dist.files or ():
            top = file.parts[0]
            if top.endswith((".dist-info", ".data")) or top in {"..", "bin", "__pycache__"}:
                continue
            module = top.split(".", 1)[0] if len(file.parts) == 1 else top
            provided.setdefault(module, canonical(dist.metadata["Name"]))
    return provided
