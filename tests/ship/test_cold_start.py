"""Every handler of the template starts from what ships: its code and the layer, nothing else.

Each function's handler module is imported by its ``Runtime``'s interpreter (python3.13) in isolated
mode, with ``sys.path`` laid out as Lambda lays it out (the function's CodeUri, the layer's
requirements installed by that interpreter, the layer's source, then the runtime's own packages) and
with only the function's own template environment. A package the code imports that no layer
requirement brings (cryptography, for the CloudFront links) fails here, not on the first cold start
in the cloud; so does a variable the function reads but its Environment lacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.template import FunctionSpec
from tests.ship.support import (
    FUNCTIONS,
    cold_start,
    lambda_environment,
    layer_packages,
    own_environments,
)


def test_the_template_has_the_fourteen_functions() -> None:
    assert len(FUNCTIONS) == 14, [spec.logical_id for spec in FUNCTIONS]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[spec.logical_id for spec in FUNCTIONS])
def test_the_handler_imports_from_its_code_and_the_layer_alone(spec: FunctionSpec) -> None:
    started = cold_start(spec, lambda_environment(spec, own_environments()[spec.logical_id]))
    assert started.returncode == 0, f"{spec.logical_id} cannot start: {started.error}\n{started.stderr}"
    result = started.result
    assert result["callable"], f"{spec.handler} is not callable"

    # Nothing came from outside the function's sys.path and the interpreter's standard library
    # (the dev virtualenv, the user's site-packages).
    allowed = [Path(entry) for entry in (*started.sys_path, *result["stdlib"])]
    strays = {
        name: file
        for name, file in result["files"].items()
        if not any(Path(file).is_relative_to(root) for root in allowed)
    }
    assert strays == {}, "modules imported from outside the function's sys.path"
    # The layer's pinned AWS SDK shadows the runtime's, as /opt/python comes before /var/runtime.
    packages = layer_packages()
    for sdk in ("boto3", "botocore"):
        assert sdk in result["files"], f"{spec.logical_id} never imported {sdk}"
        assert Path(result["files"][sdk]).is_relative_to(packages), f"{sdk} is not the layer's"
