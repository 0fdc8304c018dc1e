"""Create a store and its application key; prints the client id and secret once.

    python tools/create_store.py --stack product-export --name "My store"
    python tools/create_store.py --table <ApplicationKeysTable name> --name "My store"

The secret is stored only as a salted scrypt hash: keep the printed value, it cannot be shown again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from product_export.adapters.keys_table import KeysTable
from product_export.auth.service import AuthService
from tools.stack_resources import physical_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="CloudFormation stack name of the deployed service")
    target.add_argument("--table", help="name of the application keys table")
    parser.add_argument("--name", default="store", help="a label for the store")
    args = parser.parse_args(argv)

    table = args.table or physical_id(args.stack, "ApplicationKeysTable")
    # Creating a key needs no signing key: tokens are issued later by the deployed service.
    key, secret = AuthService(KeysTable(table), signing_key=lambda: "").create_store(args.name)
    print(
        json.dumps({"store_id": key.store_id, "client_id": key.client_id, "client_secret": secret}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
