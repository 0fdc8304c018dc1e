"""Rotate the token signing key of a deployed stack without downtime (docs/security.md).

    python tools/rotate_signing_key.py --stack product-export            # step 1: a new current key
    python tools/rotate_signing_key.py --stack product-export --retire   # step 2, >= 65 minutes later

Step 1 makes a new key current and keeps the old one as ``previous``: tokens of both keys verify,
new tokens are signed with the new key. Step 2 removes the previous key once every token it signed
has expired (token lifetime 60 minutes + the containers' 5-minute cache of the secret). Running
both at once revokes every token at once (a suspected key leak). Prints only key ids, never keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from product_export.adapters.signing_key import retire_previous_key, rotate_signing_key
from product_export.auth.tokens import key_id
from tools.stack_resources import physical_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="CloudFormation stack name of the deployed service")
    target.add_argument("--secret", help="ARN of the token signing secret")
    parser.add_argument("--retire", action="store_true", help="step 2: drop the previous key")
    args = parser.parse_args(argv)

    secret = args.secret or physical_id(args.stack, "TokenSigningSecret")
    ring = retire_previous_key(secret) if args.retire else rotate_signing_key(secret)
    kids = {"current_kid": ring.current_kid, "previous_kid": key_id(ring.previous) if ring.previous else None}
    print(json.dumps(kids, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
