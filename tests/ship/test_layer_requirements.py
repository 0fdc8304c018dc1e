"""The layer's requirements.txt is complete and pinned to what the tests run.

The layer ships boto3 and botocore (they shadow the runtime's in /opt/python), so the pair deployed
must be the pair requirements-dev.txt pins; and it must list every package the code imports and
every dependency of those, so that installing it brings nothing unpinned (an unpinned dependency
is whatever version is newest on the day of the build: botocore 1.44, through aws-xray-sdk, was).
"""

from __future__ import annotations

from pathlib import Path

from local.runner.interpreter import runtime_python
from tests.ship.support import (
    DEV_REQUIREMENTS,
    LAYER_REQUIREMENTS,
    installed,
    layer_packages,
    modules_of,
    pins,
    resolve_for_lambda,
    third_party_imports,
)

# What the review found missing or unpinned; named so a failure here reads as the regression it is.
MUST_SHIP = {"boto3", "botocore", "s3transfer", "cryptography"}


def test_every_layer_pin_is_the_dev_pin() -> None:
    layer, dev = pins(LAYER_REQUIREMENTS), pins(DEV_REQUIREMENTS)
    assert set(layer) >= MUST_SHIP, f"not pinned in the layer: {sorted(MUST_SHIP - set(layer))}"
    assert sorted(set(layer) - set(dev)) == [], "pinned in the layer but not in requirements-dev.txt"
    differing = {name: (version, dev[name]) for name, version in layer.items() if dev[name] != version}
    assert differing == {}, "layer pin != dev pin (layer, dev)"


def test_resolving_the_layer_requirements_for_lambda_brings_only_what_they_pin(tmp_path: Path) -> None:
    resolved = resolve_for_lambda(LAYER_REQUIREMENTS, tmp_path / "report.json")
    pinned = pins(LAYER_REQUIREMENTS)
    unpinned = {name: version for name, version in resolved.items() if name not in pinned}
    assert unpinned == {}, "resolved but not pinned in layers/shared/requirements.txt"
    assert resolved == pinned


def test_installing_the_layer_requirements_brings_only_what_they_pin() -> None:
    """Resolved and installed by the runtime's interpreter (python3.13) into the layer's cache, as
    the local runner and the cold-start tests use it."""
    got = installed(layer_packages())
    pinned = pins(LAYER_REQUIREMENTS)
    unpinned = {name: version for name, version in got.items() if name not in pinned}
    assert unpinned == {}, "installed but not pinned in layers/shared/requirements.txt"
    assert got == pinned, "installed versions differ from the pins (or a pin was not installed)"


def test_every_import_is_the_standard_library_first_party_or_a_pinned_distribution() -> None:
    assert runtime_python("python3.13")  # the stdlib compared against is the runtime's
    provided = modules_of(layer_packages())
    pinned = pins(LAYER_REQUIREMENTS)
    unprovided = {
        module: sorted(files)[:3]
        for module, files in third_party_imports().items()
        if provided.get(module) not in pinned
    }
    assert unprovided == {}, "imported by the code, provided by no pinned distribution"
    # The check sees what it must: the code's third-party imports, each from its distribution.
    seen = {module: provided.get(module) for module in third_party_imports()}
    assert seen["cryptography"] == "cryptography" and seen["jwt"] == "pyjwt" and seen["boto3"] == "boto3"
