"""A part writer whose MemorySize is too small for its part dies as Lambda's do (Runtime.OutOfMemory)
and its export fails cleanly: a readable error per part, no file left. (A module of its own: one
local stack per process at a time.)"""

from __future__ import annotations

import pytest

from local.server import local_service
from tests.local.test_runner_workflow import Store, _template, runner_of

PRODUCTS = 20_000  # in one part
# Between what the writer's runtime holds idle (about 75 MB) and what it holds writing (about 105):
# below Lambda's 128 MB minimum, since the writer streams and needs no more than that for any part.
WRITER_OOM_MB = 92


def test_a_writer_out_of_memory_fails_its_export_cleanly(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A MemorySize the writer's runtime fits in when idle but not while writing a part.
    with local_service(
        port=0,
        parameters={"PartSize": str(PRODUCTS)},
        log_dir=tmp_path_factory.mktemp("oom-logs"),
        template=_template(MemorySize=WRITER_OOM_MB),
    ) as small:
        store = Store(small, PRODUCTS)
        job = store.wait(store.export())
        assert job["attributes"]["status"] == "failed"
        assert not job["meta"]["file_locations"]
        errors = store.errors(job["id"])
        assert errors and all("Runtime.OutOfMemory" in message for message in errors), errors
        objects = small.stack.client("s3").list_objects_v2(
            Bucket=small.stack.environment()["PARTS_BUCKET"], Prefix=f"{store.store_id}/"
        )
        assert [o["Key"] for o in objects.get("Contents", []) if "_part_" in o["Key"]] == []
        log = (runner_of(small).log_dir / "WritePartFunction.log").read_text(encoding="utf-8")
        assert "Status: error" in log
