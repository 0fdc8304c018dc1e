from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.stack import IN_PROCESS, embedded_stack
from local.template import NO_VALUE, Template, TemplateError, load_yaml, resolve

REFS = {"Bucket": "my-bucket", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333", "Env": "prod"}
ATTRS = {("Bucket", "Arn"): "arn:aws:s3:::my-bucket", ("Fn", "Arn"): "arn:aws:lambda:eu-west-1:1:function:f"}


def test_short_tags_become_long_forms() -> None:
    document = load_yaml(
        """
        a: !Ref Bucket
        b: !GetAtt Bucket.Arn
        c: !GetAtt [Fn, Arn]
        d: !Sub "${Bucket.Arn}/*"
        e: !Sub ["${X}-${AWS::Region}", {X: !Ref Env}]
        f: !If [IsProd, big, small]
        g: !Join ["-", [a, !Ref Env]]
        h: !Select [1, [x, y]]
        i: !Equals [!Ref Env, prod]
        """
    )
    assert document["a"] == {"Ref": "Bucket"}
    assert document["b"] == {"Fn::GetAtt": ["Bucket", "Arn"]}
    assert document["c"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert document["d"] == {"Fn::Sub": "${Bucket.Arn}/*"}
    assert document["e"] == {"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Env"}}]}
    assert document["f"] == {"Fn::If": ["IsProd", "big", "small"]}
    assert document["i"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    resolved = resolve(document, REFS, ATTRS, conditions={"IsProd": True})
    assert resolved == {
        "a": "my-bucket",
        "b": "arn:aws:s3:::my-bucket",
        "c": "arn:aws:lambda:eu-west-1:1:function:f",
        "d": "arn:aws:s3:::my-bucket/*",
        "e": "prod-eu-west-1",
        "f": "big",
        "g": "a-prod",
        "h": "y",
        "i": True,
    }


def test_resolve_sub_literals_no_value_and_unknown_refs() -> None:
    assert resolve({"Fn::Sub": "${!Literal}:${AWS::AccountId}"}, REFS, ATTRS) == "${Literal}:111122223333"
    assert resolve({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}]}, REFS, ATTRS) == {
        "b": [1]
    }
    assert resolve({"Ref": "AWS::NoValue"}, REFS, ATTRS) is NO_VALUE
    with pytest.raises(TemplateError):
        resolve({"Ref": "Missing"}, REFS, ATTRS)
    with pytest.raises(TemplateError):
        resolve({"Fn::Sub": "${Missing.Arn}"}, REFS, ATTRS)


def test_toy_template_specs(toy_template: Template) -> None:
    items = toy_template.function("Items")
    assert items.code_uri == toy_template.root / "items"
    assert items.handler == "app.lambda_handler"
    assert (items.timeout, items.memory) == (10, 256)
    assert [(r.method, r.path, r.authorized) for r in items.routes] == [
        ("GET", "/items", True),
        ("GET", "/items/{id}", True),
        ("POST", "/items/export", True),
        ("ANY", "/public", False),
        ("GET", "/boom", True),
    ]
    step = toy_template.function("Step")
    assert (step.timeout, step.memory) == (60, 1024)
    assert step.environment["MACHINE_ARN"] == {"Ref": "Machine"}
    assert step.environment["ITEMS_TABLE"] == {"Ref": "ItemsTable"}
    api = toy_template.api()
    assert api is not None
    assert (api.stage_name, api.authorizer_function, api.reauthorize_every) == (
        "v9",
        "Authorizer",
        {"Ref": "CacheTtl"},
    )
    assert toy_template.parameters() == {"Concurrency": "3", "CacheTtl": "60"}


def test_real_template_lists_the_stack() -> None:
    template = Template.load()
    assert template.path == Path(__file__).resolve().parents[2] / "template.yaml"
    functions = {f.logical_id for f in template.functions()}
    assert len(functions) == 14
    assert {"TokenFunction", "AuthorizerFunction", "PlanExportFunction", "WritePartFunction"} <= functions
    assert len(template.tables()) == 4
    assert [b[0] for b in template.buckets()] == ["PartsBucket"]
    assert [s[0] for s in template.secrets()] == ["TokenSigningSecret"]
    machine = template.state_machine()
    assert machine is not None and machine.definition_path is not None
    assert machine.definition_path.is_file()
    token_routes = template.function("TokenFunction").routes
    assert [(r.method, r.path, r.authorized) for r in token_routes] == [
        ("POST", "/oauth/access_token", False)
    ]
    assert all(r.authorized for r in template.function("JobsApiFunction").routes)


def test_real_template_state_machine_resolves_to_valid_json() -> None:
    with embedded_stack(
        Template.load(), parameters={"MapConcurrency": "7"}, stack_name="real", lambdas=IN_PROCESS
    ) as stack:
        assert stack.state_machine_arn is not None
        assert stack.state_machine_arn.endswith(":stateMachine:real-export")
        described = stack.client("stepfunctions").describe_state_machine(
            stateMachineArn=stack.state_machine_arn
        )
        definition = json.loads(described["definition"])
        assert definition["States"]["WriteParts"]["MaxConcurrency"] == 7
        plan = definition["States"]["PlanExport"]["Parameters"]["FunctionName"]
        assert plan == stack.attrs[("PlanExportFunction", "Arn")]
        assert "${" not in described["definition"]
        jobs_env = stack.environment_of("JobsApiFunction")
        assert jobs_env["EXPORT_STATE_MACHINE_ARN"] == stack.state_machine_arn
        assert jobs_env["JOBS_TABLE"] == "real-JobsTable"
        assert stack.api is not None and stack.api.stage == "v1"
