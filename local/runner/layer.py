"""A layer's content as ``sam build`` lays it out in ``/opt/python``, built for this machine.

For a ``BuildMethod: python3.13`` layer, ``sam build`` copies the ``ContentUri`` directory into
``python/`` and installs its ``requirements.txt`` there. Locally the source stays where it is (edits are
live) and the requirements go into a cache directory keyed by a hash of the requirements, the
interpreter's version and the platform, installed once by that interpreter's pip, as sam build would.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from local.template import REPO_ROOT, FunctionSpec, Template

CACHE_ROOT = REPO_ROOT / ".local" / "layers"
REQUIREMENTS = "requirements.txt"


class LayerBuildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class BuiltLayer:
    """``paths``: what the layer adds to ``sys.path`` (its installed requirements, then its source)."""

    source: Path
    packages: Path | None

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.packages, self.source) if p is not None]


def _interpreter_tag(python: str) -> str:
    probe = subprocess.run(
        [python, "-I", "-c", "import sys, sysconfig; print(sys.version, sysconfig.get_platform())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return probe.stdout.strip()


def build_layer(content_uri: Path, python: str, cache_root: Path = CACHE_ROOT) -> BuiltLayer:
    """The layer at ``content_uri`` with its requirements installed by ``python`` (cached)."""
    requirements = content_uri / REQUIREMENTS
    if not requirements.is_file():
        return BuiltLayer(content_uri, None)
    digest = hashlib.sha256(requirements.read_bytes() + _interpreter_tag(python).encode()).hexdigest()[:16]
    target = cache_root / digest
    if (target / ".complete").is_file():
        return BuiltLayer(content_uri, target)
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time (pytest -n 2, make serve beside tests)
        if (target / ".complete").is_file():
            return BuiltLayer(content_uri, target)
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=cache_root))
        installed = subprocess.run(
            [
                python,
                "-I",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--root-user-action=ignore",
                "--target",
                str(staging),
                "-r",
                str(requirements),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise LayerBuildFailed(
                f"installing {requirements} with {python} failed:\n{installed.stderr[-2000:]}"
            )
        (staging / ".complete").write_text(str(requirements) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return BuiltLayer(content_uri, target)


# What Lambda's Python runtime puts on sys.path after the layers (/var/runtime): its boto3.
RUNTIME_PACKAGES = Path(__file__).resolve().with_name("runtime")


def function_sys_path(template: Template, spec: FunctionSpec, python: str) -> list[Path]:
    """``sys.path`` entries of ``spec`` as Lambda lays them (``/var/task``, then each layer's
    ``/opt/python``, then the runtime's boto3), with requirements installed by ``python``."""
    paths = [spec.code_uri]
    for logical_id in spec.layers:
        layer = template.layer(logical_id)
        if layer.build_method:
            paths += build_layer(layer.content_uri, python).paths
        else:
            paths.append(layer.content_uri)
    runtime = build_layer(RUNTIME_PACKAGES, python)
    assert runtime.packages is not None
    return [*paths, runtime.packages]
