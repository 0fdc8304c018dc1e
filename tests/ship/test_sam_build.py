"""`sam build` (what `make build` and a deployment run) builds every function and a complete layer.

The real build, for arm64 and python3.13: the layer's requirements are fetched from PyPI as aarch64
wheels and installed into ``SharedLayer/python`` (what Lambda mounts at /opt/python), beside a copy of
``product_export``. Takes about a minute (the layer's download; functions are copied in parallel).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.runner.interpreter import runtime_python
from local.template import REPO_ROOT, load_yaml
from tests.ship.support import (
    FIRST_PARTY,
    FUNCTIONS,
    LAYER,
    LAYER_PACKAGE,
    LAYER_REQUIREMENTS,
    installed,
    pins,
    third_party_imports,
)

EM_AARCH64 = 183  # ELF e_machine of arm64 code


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sam build`` of template.yaml into a temporary directory, as ``make build`` runs it: the
    runtime's interpreter first on PATH (sam build looks for ``python3.13`` there)."""
    build = tmp_path_factory.mktemp("sam") / "build"
    python_dir = str(Path(runtime_python("python3.13")).parent)
    environment = {
        **os.environ,
        "PATH": os.pathsep.join([python_dir, os.environ.get("PATH", "")]),
        "SAM_CLI_TELEMETRY": "0",
    }
    sam = Path(sys.executable).with_name("sam")
    built = subprocess.run(
        [str(sam), "build", "--template-file", "template.yaml", "--build-dir", str(build), "--parallel"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert built.returncode == 0, f"sam build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    return build


def test_every_function_is_built_from_its_code(build_dir: Path) -> None:
    template = load_yaml((build_dir / "template.yaml").read_text(encoding="utf-8"))
    resources = template["Resources"]
    for spec in FUNCTIONS:
        assert resources[spec.logical_id]["Properties"]["CodeUri"] == spec.logical_id
        module = spec.handler.rpartition(".")[0].replace(".", "/") + ".py"
        built, source = build_dir / spec.logical_id / module, spec.code_uri / module
        assert built.is_file(), f"{spec.logical_id}: {module} was not built"
        assert built.read_bytes() == source.read_bytes(), (
            f"{spec.logical_id}: {module} differs from its source"
        )
    assert resources[LAYER]["Properties"]["ContentUri"] == LAYER


def test_the_layer_holds_the_code_and_every_package_it_imports(build_dir: Path) -> None:
    python = build_dir / LAYER / "python"
    sources = {p.relative_to(LAYER_PACKAGE) for p in LAYER_PACKAGE.rglob("*.py")}
    copied = {p.relative_to(python / FIRST_PARTY) for p in (python / FIRST_PARTY).rglob("*.py")}
    assert sources and copied == sources, f"{FIRST_PARTY} is not copied whole into the layer"
    imported = third_party_imports()
    assert {"boto3", "botocore", "cryptography", "pydantic", "aws_lambda_powertools"} <= set(imported)
    absent = sorted(
        name for name in imported if not ((python / name).is_dir() or any(python.glob(f"{name}.*")))
    )
    assert absent == [], "imported by the code but not in the built layer"


def test_the_layer_holds_exactly_the_pinned_distributions_built_for_arm64(build_dir: Path) -> None:
    python = build_dir / LAYER / "python"
    assert installed(python) == pins(LAYER_REQUIREMENTS)
    extensions = sorted(python.rglob("*.so"))
    assert extensions, "the layer has compiled packages (pydantic-core, msgspec, cryptography)"
    foreign = [str(so.relative_to(python)) for so in extensions if _elf_machine(so) != EM_AARCH64]
    assert foreign == [], "compiled for another machine than arm64"


def _elf_machine(library: Path) -> int:
    header = library.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{library} is not an ELF file"
    return int.from_bytes(header[18:20], "little")
