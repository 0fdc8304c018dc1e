"""EmbeddedStack: the template's resources created on moto, with the functions dispatched in-process."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import string
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from local import moto_fixes
from local.apigw import ApiGateway
from local.lambdas import DeployedFunction, InProcessLambdas, Lambdas, RunnerLambdas, install, uninstall
from local.runner.interpreter import runtime_python
from local.runner.layer import function_sys_path
from local.runner.runner import LambdaRunner
from local.runner.workers import FunctionConfig
from local.template import FUNCTION_TYPE, REPO_ROOT, FunctionSpec, Template, TemplateError, resolve

# Where `make serve` and `make demo` keep each function's log (<LogicalId>.log), as CloudWatch would.
LOG_DIR = REPO_ROOT / ".local" / "logs"
RUNNER = "runner"  # every function in worker processes of its own, as it ships (local.runner)
IN_PROCESS = "in-process"  # every handler imported into this process: for fault injection only
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


def apply_environ(updates: Mapping[str, str | None]) -> dict[str, str | None]:
    """Sets (or, for None, removes) variables; returns what restore_environ needs to undo it."""
    saved = {name: os.environ.get(name) for name in updates}
    for name, value in updates.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return saved


def restore_environ(saved: Mapping[str, str | None]) -> None:
    apply_environ(saved)


def _clear_settings_cache() -> None:
    """The layer's boto3 clients are made once per process; a new stack (maybe another DynamoDB
    endpoint) needs them made again. Settings need nothing: each handler parses its own when the
    stack's dispatcher imports it."""
    for module, function in (
        ("product_export.adapters.aws", "client"),
        ("product_export.adapters.aws", "raw_items_dynamodb"),
    ):
        cached = getattr(sys.modules.get(module), function, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def generate_secret(spec: Mapping[str, Any]) -> str:
    """A value as Secrets Manager's GenerateSecretString makes it."""
    alphabet = ""
    if not spec.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not spec.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not spec.get("ExcludeNumbers"):
        alphabet += string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += string.punctuation
    if spec.get("IncludeSpace"):
        alphabet += " "
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "SecretStringTemplate" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec.get("GenerateStringKey", "password")] = value
        return json.dumps(document)
    return value


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


@dataclass
class EmbeddedStack:
    template: Template
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    refs: dict[str, str]
    attrs: dict[tuple[str, str], str]
    conditions: dict[str, bool]
    dispatcher: Lambdas
    lambdas: str = RUNNER
    # moto's server, where workers reach every AWS service but DynamoDB on dynalite (runner only).
    aws_endpoint: str | None = None
    log_dir: Path = LOG_DIR
    concurrency: int | None = None  # the runner's account concurrency (None: its default)
    state_machine_arn: str | None = None
    api: ApiGateway | None = None
    # DynamoDB outside moto (a dynalite server): the stack's tables live there, and every client uses it.
    dynamodb_endpoint: str | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict, repr=False)
    _created_tables: list[str] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        template: Template,
        *,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "product-export",
        region: str = "us-east-1",
        dynamodb_endpoint: str | None = None,
        lambdas: str = RUNNER,
        aws_endpoint: str | None = None,
        log_dir: Path = LOG_DIR,
        concurrency: int | None = None,
    ) -> EmbeddedStack:
        """Creates the template's resources; call while moto's mock_aws(config=MOTO_CONFIG) is active.

        Also installs the Lambda dispatch (``lambdas``: RUNNER, worker processes reaching moto at
        ``aws_endpoint``; or IN_PROCESS) and puts the union of the functions' environments into this
        process's os.environ, for the tools and tests that run here; close() undoes both. With
        ``dynamodb_endpoint`` (e.g. a ``local.dynamodb_server.DynamoDBServer``), the tables are created
        there instead of in moto, every DynamoDB client (this process's and the workers') uses it while
        the stack runs (``AWS_ENDPOINT_URL_DYNAMODB``), and close() deletes the tables again.
        """
        session = boto3.Session(region_name=region)
        account_id = session.client("sts").get_caller_identity()["Account"]
        values = {**template.parameters(), **dict(parameters or {})}
        missing = sorted(name for name, value in values.items() if value is None)
        if missing:
            raise TemplateError(f"parameters without a value: {missing}")
        partition, suffix = _partition(region)
        refs: dict[str, str] = {name: str(value) for name, value in values.items()}
        refs |= {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::Partition": partition,
            "AWS::URLSuffix": suffix,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        }
        stack = cls(
            template=template,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            parameters={k: str(v) for k, v in values.items()},
            refs=refs,
            attrs={},
            conditions={},
            dispatcher=InProcessLambdas([]),
            dynamodb_endpoint=dynamodb_endpoint,
            lambdas=lambdas,
            aws_endpoint=aws_endpoint,
            log_dir=log_dir,
            concurrency=concurrency,
        )
        if lambdas not in {RUNNER, IN_PROCESS}:
            raise ValueError(f"lambdas must be {RUNNER!r} or {IN_PROCESS!r}, not {lambdas!r}")
        if lambdas == RUNNER and aws_endpoint is None:
            raise ValueError("the runner's workers need moto's server: pass aws_endpoint")
        stack._evaluate_conditions()
        stack._name_resources()
        try:
            stack._create_resources(session)
        except BaseException:
            stack._release_dynamodb()
            raise
        return stack

    def _evaluate_conditions(self) -> None:
        pending = dict(self.template.document.get("Conditions") or {})
        while pending:
            progressed = False
            for name, expression in list(pending.items()):
                try:
                    self.conditions[name] = bool(self.resolve(expression))
                except TemplateError:
                    continue
                del pending[name]
                progressed = True
            if not progressed:
                raise TemplateError(f"cannot evaluate conditions {sorted(pending)}")

    def _name(self, props: Mapping[str, Any], key: str, logical_id: str) -> str:
        return str(self.resolve(props[key])) if key in props else f"{self.stack_name}-{logical_id}"

    def _name_resources(self) -> None:
        """Physical names, Ref values and GetAtt values of every resource that can be known up front."""
        region, account, partition = self.region, self.account_id, self.refs["AWS::Partition"]
        for logical_id, resource in self.template.resources.items():
            kind, props = resource.get("Type", ""), dict(resource.get("Properties") or {})
            name = f"{self.stack_name}-{logical_id}"
            arn: str | None = None
            if kind == "AWS::DynamoDB::Table":
                name = self._name(props, "TableName", logical_id)
                arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
            elif kind == "AWS::S3::Bucket":
                name = self._name(props, "BucketName", logical_id).lower()
                arn = f"arn:{partition}:s3:::{name}"
                self.attrs[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"
                self.attrs[(logical_id, "RegionalDomainName")] = f"{name}.s3.{region}.amazonaws.com"
            elif kind in {FUNCTION_TYPE, "AWS::Lambda::Function"}:
                name = self._name(props, "FunctionName", logical_id)[:64]
                arn = f"arn:{partition}:lambda:{region}:{account}:function:{name}"
                role = f"arn:{partition}:iam::{account}:role/{self.stack_name}-lambda"
                self.refs[f"{logical_id}Role"] = f"{self.stack_name}-lambda"
                self.attrs[(f"{logical_id}Role", "Arn")] = role
            elif kind in {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}:
                name = self._name(props, "Name" if "Name" in props else "StateMachineName", logical_id)
                arn = f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"
                self.attrs[(logical_id, "Name")] = name
                self.refs[logical_id] = arn
            elif kind == "AWS::Logs::LogGroup":
                name = self._name(props, "LogGroupName", logical_id)
                arn = f"arn:{partition}:logs:{region}:{account}:log-group:{name}:*"
            elif kind in {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}:
                name = f"arn:{partition}:lambda:{region}:{account}:layer:{name}:1"
            elif kind == "AWS::Serverless::Api":
                name = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
            self.refs.setdefault(logical_id, name)
            if arn:
                self.attrs[(logical_id, "Arn")] = arn
        api = self.template.api()
        if api and api.logical_id not in self.refs:  # SAM's implicit API
            self.refs[api.logical_id] = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10)
            )

    def _create_resources(self, session: boto3.Session) -> None:
        for logical_id, props in self.template.tables():
            self._create_table(session, logical_id, self.resolve(props))
        for logical_id, _ in self.template.buckets():
            self._create_bucket(session, self.refs[logical_id])
        for logical_id, props in self.template.secrets():
            self._create_secret(session, logical_id, self.resolve(props))
        self._create_functions(session)
        self._create_state_machine(session)
        # As in Lambda: the region variables, plus the functions' own (the union; Globals share most).
        runtime = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.dynamodb_endpoint:
            runtime["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint  # boto3 reads it itself
        self._saved_env = apply_environ(runtime | self.environment())
        _clear_settings_cache()
        install(self.dispatcher)
        moto_fixes.install()
        if self.template.api() is not None:
            self.api = ApiGateway(self.template, self)

    def _create_table(self, session: boto3.Session, logical_id: str, props: dict[str, Any]) -> None:
        request: dict[str, Any] = {k: props[k] for k in _TABLE_KEYS if k in props}
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if indexes in request:
                request[indexes] = [{k: i[k] for k in _INDEX_KEYS if k in i} for i in request[indexes]]
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        client: Any = session.client("dynamodb", endpoint_url=self.dynamodb_endpoint)
        name = self.refs[logical_id]
        try:
            table = client.create_table(TableName=name, **request)["TableDescription"]
        except client.exceptions.ResourceInUseException:
            raise TemplateError(
                f"table {name} already exists on {self.dynamodb_endpoint}: another stack with this name "
                "uses the server (pass another stack_name), or an earlier run left it there"
            ) from None
        self._created_tables.append(name)
        if table.get("LatestStreamArn"):
            self.attrs[(logical_id, "StreamArn")] = table["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        # dynalite has no UpdateTimeToLive (and expires nothing, like moto); the setting only matters on AWS.
        if ttl and ttl.get("Enabled") and not self.dynamodb_endpoint:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    def _create_bucket(self, session: boto3.Session, name: str) -> None:
        extra: dict[str, Any] = {}
        if self.region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        session.client("s3").create_bucket(Bucket=name, **extra)

    def _create_secret(self, session: boto3.Session, logical_id: str, props: dict[str, Any]) -> None:
        name = str(props.get("Name", f"{self.stack_name}-{logical_id}"))
        value = props.get("SecretString") or generate_secret(props.get("GenerateSecretString") or {})
        created = session.client("secretsmanager").create_secret(Name=name, SecretString=str(value))
        self.refs[logical_id] = created["ARN"]
        self.attrs[(logical_id, "Id")] = created["ARN"]

    def _create_role(self, session: boto3.Session, name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = session.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])

    def _create_functions(self, session: boto3.Session) -> None:
        specs = self.template.functions()
        if not specs:
            return
        role = self._create_role(session, f"{self.stack_name}-lambda", "lambda.amazonaws.com")
        client: Any = session.client("lambda")
        code, deployed = _dummy_zip(), []
        for spec in specs:
            name = self.refs[spec.logical_id]
            client.create_function(
                FunctionName=name,
                Runtime=spec.runtime,
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": code},
                Timeout=spec.timeout,
                # moto refuses less than Lambda's 128 MB; the runner enforces the template's value.
                MemorySize=max(spec.memory, 128),
                Environment={"Variables": self.environment_of(spec.logical_id)},
            )
            deployed.append(DeployedFunction(spec, name, self.attrs[(spec.logical_id, "Arn")]))
        if self.lambdas == IN_PROCESS:
            self.dispatcher = InProcessLambdas(deployed)
            return
        configs = [self._worker_config(function) for function in deployed]
        runner = LambdaRunner(configs, log_dir=self.log_dir, concurrency=self.concurrency)
        self.dispatcher = RunnerLambdas(deployed, runner)

    def _worker_config(self, function: DeployedFunction) -> FunctionConfig:
        spec = function.spec
        python = runtime_python(spec.runtime)
        return FunctionConfig(
            logical_id=spec.logical_id,
            name=function.name,
            arn=function.arn,
            python=python,
            sys_path=tuple(function_sys_path(self.template, spec, python)),
            environment=self.lambda_environment(spec, function.name),
            timeout=spec.timeout,
            memory=spec.memory,
        )

    def lambda_environment(self, spec: FunctionSpec, name: str) -> dict[str, str]:
        """A worker's whole environment: the function's own variables, then what Lambda sets (which
        a function cannot override), the stand-in credentials and the local endpoints."""
        lambda_variables = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]runner",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            # What `sam local` sets: Powertools' tracer stays off where no X-Ray daemon listens.
            "AWS_SAM_LOCAL": "true",
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "AWS_SESSION_TOKEN": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            "AWS_ENDPOINT_URL": self.aws_endpoint or "",
        }
        if self.dynamodb_endpoint:
            lambda_variables["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint
        return self.environment_of(spec.logical_id) | lambda_variables

    def _create_state_machine(self, session: boto3.Session) -> None:
        spec = self.template.state_machine()
        if spec is None:
            return
        if spec.definition_path is not None:
            definition = spec.definition_path.read_text(encoding="utf-8")
        else:
            definition = json.dumps(self.resolve(spec.definition))
        for key, value in self.resolve(spec.substitutions).items():
            definition = definition.replace("${" + key + "}", str(value))
        role = self._create_role(session, f"{self.stack_name}-states", "states.amazonaws.com")
        client: Any = session.client("stepfunctions")
        created = client.create_state_machine(
            name=self.attrs[(spec.logical_id, "Name")], definition=definition, roleArn=role, type=spec.type
        )
        self.state_machine_arn = str(created["stateMachineArn"])
        self.refs[spec.logical_id] = self.state_machine_arn

    # --- use ------------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        return resolve(
            value, self.refs, self.attrs, conditions=self.conditions, mappings=self.template.mappings
        )

    def environment_of(self, logical_id: str) -> dict[str, str]:
        """The function's resolved environment variables."""
        variables = self.template.function(logical_id).environment
        return {name: _env_value(value) for name, value in self.resolve(variables).items()}

    def environment(self) -> dict[str, str]:
        """The union of every function's environment (what os.environ holds while the stack runs)."""
        union: dict[str, str] = {}
        for spec in self.template.functions():
            union |= self.environment_of(spec.logical_id)
        return union

    def client(self, service: str) -> Any:
        endpoint = self.dynamodb_endpoint if service == "dynamodb" else None
        return boto3.client(service, region_name=self.region, endpoint_url=endpoint)  # type: ignore[call-overload]

    def wait_for_execution(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        """describe_execution once the execution is no longer RUNNING."""
        client, deadline = self.client("stepfunctions"), time.monotonic() + timeout
        while True:
            description: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)

    def close(self, *, drain_timeout: float = 30) -> None:
        """Stops running executions, removes the Lambda dispatch and restores os.environ.

        Waits (up to ``drain_timeout``) for moto's workflow threads, so a stopped execution cannot call
        a handler of the next stack with the same function names.
        """
        if self._closed:
            return
        self._closed = True
        if self.state_machine_arn:
            with contextlib.suppress(Exception):
                client = self.client("stepfunctions")
                running = client.list_executions(
                    stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
                )
                for execution in running["executions"]:
                    client.stop_execution(executionArn=execution["executionArn"])
            moto_fixes.join_workflow_threads(drain_timeout)
        uninstall(self.dispatcher)
        self.dispatcher.close()
        moto_fixes.uninstall()
        self._release_dynamodb()
        restore_environ(self._saved_env)
        _clear_settings_cache()

    def _release_dynamodb(self) -> None:
        """Removes the tables of an external DynamoDB endpoint (they outlive moto; moto's own go with
        mock_aws)."""
        if not self.dynamodb_endpoint or not self._created_tables:
            return
        session = boto3.session.Session(region_name=self.region)
        client: Any = session.client("dynamodb", endpoint_url=self.dynamodb_endpoint)
        for name in self._created_tables:
            with contextlib.suppress(Exception):
                client.delete_table(TableName=name)
        self._created_tables.clear()

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def embedded_stack(
    template: Template | None = None,
    *,
    parameters: Mapping[str, str] | None = None,
    stack_name: str = "product-export",
    region: str = "us-east-1",
    dynamodb_endpoint: str | None = None,
    lambdas: str = RUNNER,
    log_dir: Path = LOG_DIR,
    host: str = "127.0.0.1",
    concurrency: int | None = None,
) -> Iterator[EmbeddedStack]:
    """Starts moto (Step Functions executing, Lambda without Docker), creates the stack, tears all down.

    ``dynamodb_endpoint``: DynamoDB served there (a dynalite server, see ``local.dynamodb_server``)
    instead of by moto; moto lets requests to such a non-AWS URL through.
    ``lambdas``: ``RUNNER`` runs every function in worker processes of its own, which reach moto
    over HTTP (its server, started here on ``host``) as functions in the cloud reach AWS, and log
    to ``log_dir``, at most ``concurrency`` calls at once; ``IN_PROCESS`` imports the handlers into
    this process (for tests that reach inside a call).
    """
    saved = apply_environ(
        {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
        | {"AWS_PROFILE": None, "AWS_ENDPOINT_URL": None, "AWS_ENDPOINT_URL_DYNAMODB": None}
    )
    try:
        with mock_aws(config=MOTO_CONFIG), _moto_server(host, lambdas == RUNNER) as aws_endpoint:
            stack = EmbeddedStack.create(
                template or Template.load(),
                parameters=parameters,
                stack_name=stack_name,
                region=region,
                dynamodb_endpoint=dynamodb_endpoint,
                lambdas=lambdas,
                aws_endpoint=aws_endpoint,
                log_dir=log_dir,
                concurrency=concurrency,
            )
            try:
                yield stack
            finally:
                stack.close()
    finally:
        restore_environ(saved)


@contextlib.contextmanager
def _moto_server(host: str, wanted: bool) -> Iterator[str | None]:
    """moto's server on a free port, sharing this process's moto state (None when not wanted)."""
    if not wanted:
        yield None
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it logs every request
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        server_host, port = server.get_host_and_port()
        yield f"http://{server_host}:{port}"
    finally:
        server.stop()
