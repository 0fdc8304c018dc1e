"""The interpreter of a function's ``Runtime`` (python3.13 for this template), found on this machine."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

_PYTHON_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")


class RuntimeMissing(RuntimeError):
    """The runtime's interpreter is not installed: the message says what to install."""


def _pyenv_versions(major_minor: str) -> list[str]:
    """Installed pyenv versions of ``3.13`` (say), newest first; none without pyenv."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
    found = [v.strip() for v in listed.stdout.splitlines() if v.strip().startswith(major_minor + ".")]
    return sorted(found, key=lambda v: [int(p) if p.isdigit() else 0 for p in v.split(".")], reverse=True)


def _probe(command: str, env: dict[str, str]) -> str | None:
    """The real executable behind ``command`` (a pyenv shim resolves to its version's binary)."""
    try:
        probed = subprocess.run(
            [command, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    executable = probed.stdout.strip()
    return executable if probed.returncode == 0 and executable else None


@functools.cache
def runtime_python(runtime: str) -> str:
    """The path of the interpreter for ``runtime`` (``python3.13``), or RuntimeMissing.

    Looked for as ``pythonX.Y`` on PATH; with pyenv, an installed X.Y is found even when it is not in
    the selected versions (``PYENV_VERSION=3.11.7:3.13.0`` is how this project's machines select it).
    """
    match = _PYTHON_RUNTIME.match(runtime)
    if match is None:
        raise RuntimeMissing(
            f"runtime {runtime!r} is not a Python runtime; the local runner runs only Python"
        )
    major_minor = f"{match[1]}.{match[2]}"
    command = shutil.which(runtime) or runtime
    env = dict(os.environ)
    candidates = [env.get("PYENV_VERSION")]
    pyenv_versions = _pyenv_versions(major_minor)
    if pyenv_versions:
        selected = env.get("PYENV_VERSION") or ""
        candidates.append(":".join([*filter(None, selected.split(":")), pyenv_versions[0]]))
    for pyenv_version in candidates:
        if pyenv_version is None:
            env.pop("PYENV_VERSION", None)
        else:
            env["PYENV_VERSION"] = pyenv_version
        executable = _probe(command, env)
        if executable:
            return executable
    raise RuntimeMissing(
        f"{runtime} (the template's Runtime) is not installed: install Python {major_minor}, "
        f"e.g. `pyenv install {major_minor}` or `apt-get install {runtime}`"
    )
