"""template.yaml as CloudFormation deploys it: SAM's transform applied offline (no AWS account).

    python tools/sam_translate.py > .aws-sam/translated.json

The lint step runs checkov's IAM checks on the result (the roles SAM generates from each
function's ``Policies`` exist only after the transform), and tests/security/test_least_privilege.py
checks every AWS call the functions make against these same generated roles.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
# The transform needs code locations as S3 URIs; where the code lives does not change any policy.
_LOCAL_URIS = ("CodeUri", "ContentUri", "DefinitionUri")
# SAM's default managed policies, so the transform asks IAM for nothing.
_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


class _Policies:
    def load(self) -> dict[str, str]:
        return dict(_MANAGED_POLICIES)


def translate(path: Path = TEMPLATE, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(yaml_parse(path.read_text(encoding="utf-8")))
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in _LOCAL_URIS:
            if isinstance(properties.get(key), str):
                properties[key] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform wants a region only
    translated: dict[str, Any] = transform(document, parameters or {}, _Policies())
    return translated


def main() -> None:
    json.dump(translate(), sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
