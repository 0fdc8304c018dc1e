"""Reads template.yaml (the single source of truth) and evaluates its CloudFormation intrinsics."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

FUNCTION_TYPE = "AWS::Serverless::Function"
API_TYPE = "AWS::Serverless::Api"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
IMPLICIT_API = "ServerlessRestApi"


class TemplateError(Exception):
    """The template uses something this emulation cannot evaluate."""


# --- YAML with CloudFormation short tags --------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> Any:
    """YAML (or JSON) with CloudFormation short tags converted to their long forms."""
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


# --- intrinsic functions ------------------------------------------------------------------------

NO_VALUE: Any = object()
_SUB_VAR = re.compile(r"\$\{([^}!]*)\}|\$\{!([^}]*)\}")


def _sub(
    text: str, variables: Mapping[str, Any], refs: Mapping[str, str], attrs: Mapping[tuple[str, str], str]
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(2) is not None:  # ${!Literal}
            return "${" + match.group(2) + "}"
        name = match.group(1).strip()
        if name in variables:
            return str(variables[name])
        if name in refs:
            return str(refs[name])
        resource, dot, attribute = name.partition(".")
        if dot and (resource, attribute) in attrs:
            return str(attrs[(resource, attribute)])
        raise TemplateError(f"Fn::Sub cannot resolve ${{{name}}}")

    return _SUB_VAR.sub(replace, text)


def resolve(
    value: Any,
    refs: Mapping[str, str],
    attrs: Mapping[tuple[str, str], str],
    *,
    conditions: Mapping[str, bool] | None = None,
    mappings: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluates the intrinsic functions in ``value``.

    ``refs`` maps logical ids, parameters and pseudo parameters (``AWS::Region`` ...) to what ``Ref``
    returns; ``attrs`` maps ``(logical id, attribute)`` to what ``Fn::GetAtt`` returns.
    """

    def again(inner: Any) -> Any:
        return resolve(inner, refs, attrs, conditions=conditions, mappings=mappings)

    if isinstance(value, list):
        return [item for item in (again(v) for v in value) if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: r for k, r in ((k, again(v)) for k, v in value.items()) if r is not NO_VALUE}
    ((key, arg),) = value.items()
    if key == "Ref":
        if arg == "AWS::NoValue":
            return NO_VALUE
        if arg not in refs:
            raise TemplateError(f"Ref {arg!r} is not known")
        return refs[arg]
    if key == "Fn::GetAtt":
        resource, attribute = (again(arg) if isinstance(arg, list) else str(arg).split(".", 1))[:2]
        if (resource, attribute) not in attrs:
            raise TemplateError(f"Fn::GetAtt {resource}.{attribute} is not known")
        return attrs[(resource, attribute)]
    if key == "Fn::Sub":
        if isinstance(arg, list):
            text, variables = arg[0], {k: again(v) for k, v in (arg[1] if len(arg) > 1 else {}).items()}
        else:
            text, variables = arg, {}
        return _sub(text, variables, refs, attrs)
    if key == "Fn::Join":
        delimiter, items = again(arg)
        return str(delimiter).join(str(item) for item in items)
    if key == "Fn::Select":
        index, items = again(arg)
        return items[int(index)]
    if key == "Fn::Split":
        delimiter, text = again(arg)
        return str(text).split(str(delimiter))
    if key == "Fn::Base64":
        return base64.b64encode(str(again(arg)).encode()).decode()
    if key == "Fn::FindInMap":
        name, top, second = again(arg)[:3]
        return (mappings or {})[name][top][second]
    if key == "Fn::Equals":
        left, right = again(arg)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not again(arg)[0]
    if key == "Fn::And":
        return all(again(arg))
    if key == "Fn::Or":
        return any(again(arg))
    if key == "Fn::If" or (key == "Condition" and isinstance(arg, str)):
        name = arg if key == "Condition" else arg[0]
        if conditions is None or name not in conditions:
            raise TemplateError(f"condition {name!r} is not known")
        if key == "Condition":
            return conditions[name]
        return again(arg[1] if conditions[name] else arg[2])
    return {key: again(arg)}


# --- the template -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str  # upper case; ANY matches every method
    path: str  # the resource path template, e.g. /pcm/products/{id}
    authorized: bool
    authorizer: str | None = None  # the authorizer's name in the Api's Auth.Authorizers
    event: str = ""  # the event's logical name


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]  # Globals' variables merged with the function's own, unresolved
    timeout: int
    memory: int
    routes: list[Route] = field(default_factory=list)
    runtime: str = "python3.13"
    properties: dict[str, Any] = field(default_factory=dict)  # the merged raw properties
    layers: list[str] = field(default_factory=list)  # logical ids of the template's own layers, in order


@dataclass(frozen=True)
class LayerSpec:
    logical_id: str
    content_uri: Path
    build_method: str | None  # Metadata.BuildMethod (python3.13: requirements.txt installed by sam build)


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_logical_id: str
    header: str
    reauthorize_every: Any  # unresolved; None means API Gateway's default (300 s)
    validation_expression: str | None = None


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    stage_name: str
    default_authorizer: str | None
    authorizers: dict[str, AuthorizerSpec]
    gateway_responses: dict[str, Any]

    @property
    def authorizer(self) -> AuthorizerSpec | None:
        """The default authorizer."""
        return self.authorizers.get(self.default_authorizer) if self.default_authorizer else None

    @property
    def authorizer_function(self) -> str | None:
        auth = self.authorizer
        return auth.function_logical_id if auth else None

    @property
    def reauthorize_every(self) -> Any:
        auth = self.authorizer
        return auth.reauthorize_every if auth else None


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_path: Path | None
    definition: Any  # inline Definition when there is no DefinitionUri
    substitutions: dict[str, Any]
    name: Any  # unresolved Name, or None
    type: str


def _logical_of(value: Any) -> str:
    """The logical id behind !GetAtt X.Arn, !Ref X or a plain string."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return str(value)


class Template:
    def __init__(self, document: dict[str, Any], path: Path) -> None:
        self.document = document
        self.path = path
        self.root = path.parent

    @classmethod
    def load(cls, path: Path = DEFAULT_TEMPLATE) -> Template:
        path = Path(path).resolve()
        document = load_yaml(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TemplateError(f"{path} is not a template")
        return cls(document, path)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Resources") or {})

    @property
    def mappings(self) -> dict[str, Any]:
        return dict(self.document.get("Mappings") or {})

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, dict(resource.get("Properties") or {}))
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type
        ]

    def parameters(self) -> dict[str, str | None]:
        """Parameter name -> its default as a string (as Ref returns it), None without a default."""
        result: dict[str, str | None] = {}
        for name, spec in (self.document.get("Parameters") or {}).items():
            default = (spec or {}).get("Default")
            if isinstance(default, list):
                default = ",".join(str(item) for item in default)
            result[name] = None if default is None else str(default)
        return result

    def _globals(self, section: str) -> dict[str, Any]:
        return dict((self.document.get("Globals") or {}).get(section) or {})

    def functions(self) -> list[FunctionSpec]:
        defaults = self._globals("Function")
        return [
            self._function(logical_id, props, defaults) for logical_id, props in self.of_type(FUNCTION_TYPE)
        ]

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(logical_id)

    def _function(self, logical_id: str, props: dict[str, Any], defaults: dict[str, Any]) -> FunctionSpec:
        merged = {**defaults, **props}
        variables = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        code_uri = merged.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri is supported")
        return FunctionSpec(
            logical_id=logical_id,
            code_uri=(self.root / code_uri).resolve(),
            handler=str(merged.get("Handler", "app.lambda_handler")),
            environment=variables,
            timeout=int(merged.get("Timeout", 3)),
            memory=int(merged.get("MemorySize", 128)),
            routes=self._routes(props),
            runtime=str(merged.get("Runtime", "python3.13")),
            properties=merged,
            layers=[_logical_of(layer) for layer in merged.get("Layers") or []],
        )

    def layer(self, logical_id: str) -> LayerSpec:
        """An AWS::Serverless::LayerVersion of this template (a local ContentUri)."""
        resource = self.resources.get(logical_id) or {}
        if resource.get("Type") != LAYER_TYPE:
            raise TemplateError(f"{logical_id} is not an {LAYER_TYPE} of the template")
        props = dict(resource.get("Properties") or {})
        content_uri = props.get("ContentUri")
        if not isinstance(content_uri, str):
            raise TemplateError(f"{logical_id}: only a local ContentUri is supported")
        method = (resource.get("Metadata") or {}).get("BuildMethod")
        return LayerSpec(logical_id, (self.root / content_uri).resolve(), str(method) if method else None)

    def _routes(self, props: dict[str, Any]) -> list[Route]:
        routes = []
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            spec = event.get("Properties") or {}
            api = self.api(_logical_of(spec["RestApiId"]) if "RestApiId" in spec else None)
            requested = (spec.get("Auth") or {}).get("Authorizer")
            authorizer = (api.default_authorizer if api else None) if requested is None else requested
            if authorizer in {"NONE", "AWS_IAM"}:
                authorizer = None
            routes.append(
                Route(
                    method=str(spec["Method"]).upper(),
                    path=str(spec["Path"]),
                    authorized=authorizer is not None,
                    authorizer=authorizer,
                    event=event_name,
                )
            )
        return routes

    def routes(self) -> list[tuple[str, Route]]:
        """(function logical id, route) for every Api event."""
        return [(spec.logical_id, route) for spec in self.functions() for route in spec.routes]

    def tables(self) -> list[tuple[str, dict[str, Any]]]:
        return self.of_type("AWS::DynamoDB::Table")

    def buckets(self) -> list[tuple[str, dict[str, Any]]]:
        return self.of_type("AWS::S3::Bucket")

    def secrets(self) -> list[tuple[str, dict[str, Any]]]:
        return self.of_type("AWS::SecretsManager::Secret")

    def state_machine(self) -> StateMachineSpec | None:
        machines = self.of_type("AWS::Serverless::StateMachine")
        if not machines:
            return None
        logical_id, props = machines[0]
        uri = props.get("DefinitionUri")
        if uri is not None and not isinstance(uri, str):
            raise TemplateError(f"{logical_id}: only a local DefinitionUri is supported")
        return StateMachineSpec(
            logical_id=logical_id,
            definition_path=(self.root / uri).resolve() if uri else None,
            definition=props.get("Definition"),
            substitutions=dict(props.get("DefinitionSubstitutions") or {}),
            name=props.get("Name"),
            type=str(props.get("Type", "STANDARD")),
        )

    def api(self, logical_id: str | None = None) -> ApiSpec | None:
        """The AWS::Serverless::Api (the only one, or ``logical_id``); SAM's implicit API otherwise."""
        apis = self.of_type(API_TYPE)
        chosen = [(lid, p) for lid, p in apis if logical_id in {None, lid}]
        if not chosen:
            has_events = any(
                e.get("Type") == "Api"
                for _, p in self.of_type(FUNCTION_TYPE)
                for e in (p.get("Events") or {}).values()
            )
            if not has_events or logical_id not in {None, IMPLICIT_API}:
                return None
            chosen = [(IMPLICIT_API, {"StageName": "Prod"})]
        api_id, props = chosen[0]
        props = {**self._globals("Api"), **props}
        auth = props.get("Auth") or {}
        authorizers = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            identity = spec.get("Identity") or {}
            authorizers[name] = AuthorizerSpec(
                name=name,
                function_logical_id=_logical_of(spec.get("FunctionArn")),
                header=str(identity.get("Header", "Authorization")),
                reauthorize_every=identity.get("ReauthorizeEvery"),
                validation_expression=identity.get("ValidationExpression"),
            )
        return ApiSpec(
            logical_id=api_id,
            stage_name=str(props.get("StageName", "Prod")),
            default_authorizer=auth.get("DefaultAuthorizer"),
            authorizers=authorizers,
            gateway_responses=dict(props.get("GatewayResponses") or {}),
        )
