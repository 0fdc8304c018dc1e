"""compile_dynamodb: placeholders only, and a sound superset of the Python evaluator.

``condition_accepts`` is a small interpreter of DynamoDB condition expressions (=, <>, <, <=, >,
>=, IN, AND, OR, NOT, begins_with, contains, attribute_exists, document paths) with DynamoDB's
typing rules; it is checked against moto here and reused by the property tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from product_export.filters import Condition, compile_dynamodb, matches, parse_filter

_TOKEN = re.compile(r"\s*(#n\d+|:v\d+|<=|>=|<>|[=<>(),.]|[A-Za-z_]+)")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "begins_with", "contains", "attribute_exists"})
_MISSING = object()


def tokenize(expression: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(expression.rstrip()):
        match = _TOKEN.match(expression, pos)
        assert match, f"unexpected text at {pos} in {expression!r}"
        token = match.group(1)
        assert token[0] in "#:=<>(),." or token in _KEYWORDS, f"not a keyword: {token!r}"
        tokens.append(token)
        pos = match.end()
    return tokens


def _key(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # DynamoDB orders strings by their UTF-8 bytes


class _Interpreter:
    def __init__(self, condition: Condition, item: Mapping[str, Any]) -> None:
        self.tokens = tokenize(condition.expression)
        self.pos = 0
        self.condition = condition
        self.item = item
        self.used: set[str] = set()

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        assert token, "unexpected end of expression"
        assert expected is None or token == expected, f"expected {expected!r}, got {token!r}"
        self.pos += 1
        return token

    def run(self) -> bool:
        result = self.disjunction()
        assert self.pos == len(self.tokens), f"trailing tokens {self.tokens[self.pos :]}"
        return result

    def disjunction(self) -> bool:
        result = self.conjunction()
        while self.peek() == "OR":
            self.take()
            right = self.conjunction()
            result = result or right
        return result

    def conjunction(self) -> bool:
        result = self.negation()
        while self.peek() == "AND":
            self.take()
            right = self.negation()
            result = result and right
        return result

    def negation(self) -> bool:
        if self.peek() == "NOT":
            self.take()
            return not self.negation()
        return self.primary()

    def path(self) -> Any:
        value: Any = self.item
        while True:
            token = self.take()
            assert token.startswith("#n"), token
            self.used.add(token)
            name = self.condition.names[token]
            value = value.get(name, _MISSING) if isinstance(value, Mapping) else _MISSING
            if self.peek() != ".":
                return value
            self.take(".")

    def operand(self) -> str:
        token = self.take()
        assert token.startswith(":v"), token
        self.used.add(token)
        return self.condition.values[token]

    def primary(self) -> bool:
        if self.peek() == "(":
            self.take()
            result = self.disjunction()
            self.take(")")
            return result
        if self.peek() in ("begins_with", "contains", "attribute_exists"):
            function = self.take()
            self.take("(")
            attribute = self.path()
            if function == "attribute_exists":
                self.take(")")
                return attribute is not _MISSING
            self.take(",")
            value = self.operand()
            self.take(")")
            if function == "begins_with":
                return isinstance(attribute, str) and attribute.startswith(value)
            if isinstance(attribute, str):
                return value in attribute
            if isinstance(attribute, (list, set, frozenset, tuple)):
                return any(isinstance(element, str) and element == value for element in attribute)
            return False
        attribute = self.path()
        if self.peek() == "IN":
            self.take()
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take()
                options.append(self.operand())
            self.take(")")
            assert len(options) <= 100, "DynamoDB allows at most 100 IN operands"
            return isinstance(attribute, str) and attribute in options
        comparator = self.take()
        value = self.operand()
        if not isinstance(attribute, str):
            return comparator == "<>" and attribute is not _MISSING
        left, right = _key(attribute), _key(value)
        return {
            "=": left == right,
            "<>": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[comparator]


def condition_accepts(condition: Condition | None, item: Mapping[str, Any]) -> bool:
    """Whether DynamoDB would return the item for this FilterExpression (None: no condition)."""
    if condition is None:
        return True
    interpreter = _Interpreter(condition, item)
    result = interpreter.run()
    # DynamoDB rejects unused placeholders: every one must appear in the expression.
    assert interpreter.used == set(condition.names) | set(condition.values)
    return result


def assert_well_formed(condition: Condition) -> None:
    """Only placeholders and keywords in the expression; every placeholder defined and used."""
    tokens = tokenize(condition.expression)
    names = {t for t in tokens if t.startswith("#")}
    values = {t for t in tokens if t.startswith(":")}
    assert names == set(condition.names)
    assert values == set(condition.values)
    assert all(isinstance(v, str) and v for v in condition.values.values())
    assert len(set(condition.names.values())) == len(condition.names), "one placeholder per name"
    assert len(condition.expression) <= 4096


def compiled(text: str) -> Condition | None:
    return compile_dynamodb(parse_filter(text))


# -- exact compilation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression", "names", "values"),
    [
        ("eq(sku,a)", "#n0 = :v0", {"#n0": "sku"}, {":v0": "a"}),
        ("eq(mpn,a)", "#n0 = :v0", {"#n0": "mpn"}, {":v0": "a"}),
        ("eq(status,live)", "#n0 = :v0", {"#n0": "status"}, {":v0": "live"}),
        ("eq(tags,a)", "contains(#n0, :v0)", {"#n0": "tags"}, {":v0": "a"}),
        ("eq(product_types,bundle)", "contains(#n0, :v0)", {"#n0": "product_types"}, {":v0": "bundle"}),
        (
            "eq(shopper_attributes.colour,blue)",
            "#n0.#n1 = :v0",
            {"#n0": "shopper_attributes", "#n1": "colour"},
            {":v0": "blue"},
        ),
        (
            "eq(admin_attributes.a.b,x)",
            "#n0.#n1 = :v0",
            {"#n0": "admin_attributes", "#n1": "a.b"},
            {":v0": "x"},
        ),
        ("like(name,Blue*)", "begins_with(#n0, :v0)", {"#n0": "name"}, {":v0": "Blue"}),
        ("like(name,*lue*)", "contains(#n0, :v0)", {"#n0": "name"}, {":v0": "lue"}),
        ("like(name,Blue)", "#n0 = :v0", {"#n0": "name"}, {":v0": "Blue"}),
        ("like(tags,summer)", "contains(#n0, :v0)", {"#n0": "tags"}, {":v0": "summer"}),
        ("in(id,1,2,1)", "#n0 IN (:v0, :v1)", {"#n0": "id"}, {":v0": "1", ":v1": "2"}),
        ("in(id,1)", "#n0 = :v0", {"#n0": "id"}, {":v0": "1"}),
        (
            "in(tags,a,b)",
            "(contains(#n0, :v0)) OR (contains(#n0, :v1))",
            {"#n0": "tags"},
            {":v0": "a", ":v1": "b"},
        ),
        (
            "gt(updated_at,2024-01-05T14:46:42.070+01:00)",
            "#n0 > :v0",
            {"#n0": "updated_at"},
            {":v0": "2024-01-05T13:46:42.070Z"},
        ),
        ("ge(id,a)", "#n0 >= :v0", {"#n0": "id"}, {":v0": "a"}),
        ("lt(external_ref,a)", "#n0 < :v0", {"#n0": "external_ref"}, {":v0": "a"}),
        (
            "le(created_at,2024-01-01)",
            "#n0 <= :v0",
            {"#n0": "created_at"},
            {":v0": "2024-01-01T00:00:00.000Z"},
        ),
        (
            "eq(sku,a):(eq(sku,b)|eq(status,live))",
            "(#n0 = :v0) AND ((#n0 = :v1) OR (#n1 = :v2))",
            {"#n0": "sku", "#n1": "status"},
            {":v0": "a", ":v1": "b", ":v2": "live"},
        ),
        (
            "eq(sku,a):(eq(sku,b):eq(name,a))",
            "(#n0 = :v0) AND (#n0 = :v1) AND (#n1 = :v0)",
            {"#n0": "sku", "#n1": "name"},
            {":v0": "a", ":v1": "b"},
        ),
        # TRUE terms are dropped from a conjunction
        ("eq(sku,a):is_null(upc_ean):eq(templates,t)", "#n0 = :v0", {"#n0": "sku"}, {":v0": "a"}),
    ],
)
def test_compiled_condition(
    text: str, expression: str, names: dict[str, str], values: dict[str, str]
) -> None:
    condition = compiled(text)
    assert condition == Condition(expression, names, values)
    assert_well_formed(condition)


@pytest.mark.parametrize(
    "text",
    [
        "eq(extensions.shoes.size,42)",
        "eq(templates,shoes)",
        "is_null(sku)",
        "is_null(shopper_attributes.k)",
        "like(name,*Shoes)",
        "like(tags,sum*)",
        "like(tags,*um*)",
        "like(tags,*mer)",
        "like(name,*)",
        "like(name,**)",
        'eq(sku,"")',
        'in(sku,a,"")',
        'gt(id,"")',
        "(eq(sku,a)|eq(templates,t))",
        "(eq(sku,a)|is_null(sku))",
        "is_null(sku):eq(extensions.a.b,c)",
    ],
)
def test_not_pushed_down(text: str) -> None:
    assert compiled(text) is None


def test_none_compiles_to_none() -> None:
    assert compile_dynamodb(None) is None


def test_in_with_many_values_is_chunked_by_100() -> None:
    ids = [f"id-{i}" for i in range(230)]
    condition = compiled("in(id," + ",".join(ids) + ")")
    assert condition is not None
    assert_well_formed(condition)
    assert condition.expression.count(" IN (") == 3
    assert condition.expression.count(" OR ") == 2
    assert sorted(condition.values.values()) == sorted(ids)
    for i in (0, 99, 100, 229):
        assert condition_accepts(condition, {"id": f"id-{i}"})
    assert not condition_accepts(condition, {"id": "id-230"})


def test_too_long_expression_falls_back_to_no_condition() -> None:
    tags = ",".join(f"t{i}" for i in range(200))
    assert compiled(f"in(tags,{tags})") is None
    both = compiled(f"in(tags,{tags}):eq(sku,a)")
    assert both is None  # the whole condition is dropped, never a truncated one


TRICKY = [
    ") OR #x = :y",
    "a) OR (#n0 <> :v0",
    ":v0",
    "#n0",
    "x' OR '1'='1",
    "AND",
    "begins_with(#n0, :v0)",
    "\\",
    'q"uote',
    "ünï©ødé 日本",
    "new\nline",
    "(",
    "|",
    ",",
    ":",
]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("value", TRICKY)
def test_user_values_never_reach_the_expression(value: str) -> None:
    q = _quote(value)
    item = {
        "sku": value,
        "id": value,
        "name": f"x{value}y",
        "tags": [value],
        "external_ref": value + "~",
        "shopper_attributes": {"k": value},
    }
    texts = [
        f"eq(sku,{q})",
        f"in(id,{q},{_quote(value + '2')})",
        f"like(name,{_quote(value + '*')})",
        f"like(name,{_quote('*' + value + '*')})",
        f"eq(tags,{q}):gt(external_ref,{q})",
        f"(eq(shopper_attributes.k,{q})|lt(id,{q}))",
    ]
    for text in texts:
        expr = parse_filter(text)
        condition = compile_dynamodb(expr)
        assert condition is not None
        assert_well_formed(condition)
        assert value in condition.values.values()
        if matches(expr, item):
            assert condition_accepts(condition, item), text
    # every filter but the prefix one matches the item, so the soundness check above is exercised
    assert [matches(parse_filter(text), item) for text in texts] == [True, True, False, True, True, True]


def test_map_keys_are_placeholders_too() -> None:
    condition = compiled("eq(shopper_attributes.#n1.:v0|AND:OR,v)")
    assert condition == Condition(
        "#n0.#n1 = :v0", {"#n0": "shopper_attributes", "#n1": "#n1.:v0|AND:OR"}, {":v0": "v"}
    )


# -- soundness on hand-picked items ---------------------------------------------------------------

ITEMS: list[dict[str, Any]] = [
    {},
    {
        "id": "p1",
        "sku": "SHOE-42",
        "name": "Blue Shoes",
        "status": "live",
        "tags": ["summer", "sale"],
        "product_types": ["standard"],
        "updated_at": "2024-03-01T00:00:00.000Z",
        "shopper_attributes": {"colour": "blue"},
        "extensions": {"shoes": {"size": Decimal(42)}},
    },
    {"id": "p2", "sku": "", "name": "", "tags": [], "status": None, "shopper_attributes": {}},
    {"id": "p3", "sku": "hat", "name": "Red Hat", "status": "draft", "tags": ["winter"], "templates": ["t1"]},
    {"id": "p4", "external_ref": "ext-9", "created_at": "2023-12-31T23:59:59.999Z", "upc_ean": "0123"},
]

FILTERS = [
    "eq(sku,SHOE-42)",
    "eq(status,live)",
    "eq(tags,sale)",
    "in(tags,winter,sale)",
    "in(sku,hat,SHOE-42)",
    "like(name,Blue*)",
    "like(name,*Hat)",
    "like(name,*e*)",
    "like(tags,*a*)",
    "gt(updated_at,2024-01-01)",
    "le(created_at,2024-01-01)",
    "gt(external_ref,ext-1)",
    "eq(shopper_attributes.colour,blue)",
    "eq(extensions.shoes.size,42)",
    "eq(templates,t1)",
    "eq(templates,shoes)",
    "is_null(sku)",
    "(eq(sku,hat)|eq(status,live))",
    "(eq(sku,hat)|is_null(name))",
    "eq(status,live):like(name,*Shoes)",
    "(like(name,Red*):eq(tags,winter)|in(id,p1,p4))",
]


@pytest.mark.parametrize("text", FILTERS)
def test_superset_on_sample_items(text: str) -> None:
    expr = parse_filter(text)
    condition = compile_dynamodb(expr)
    for item in ITEMS:
        if matches(expr, item):
            assert condition_accepts(condition, item), (text, item)


# -- the interpreter agrees with moto's DynamoDB ------------------------------------------------


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        created = resource.create_table(
            TableName="filters",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in ITEMS[1:]:
            created.put_item(Item=item)
        yield created


def test_interpreter_agrees_with_moto(table: Any) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")  # low-level: values wrapped as {"S": ...}
    for text in [*FILTERS, 'in(id,p1,p2,"p3")', "eq(sku,a):(eq(sku,b)|eq(status,live))"]:
        condition = compiled(text)
        if condition is None:
            continue
        response = client.scan(
            TableName="filters",
            FilterExpression=condition.expression,
            ExpressionAttributeNames=condition.names,
            ExpressionAttributeValues={key: {"S": value} for key, value in condition.values.items()},
        )
        returned = {item["id"]["S"] for item in response["Items"]}
        expected = {item["id"] for item in ITEMS[1:] if condition_accepts(condition, item)}
        assert returned == expected, text
        wanted = {item["id"] for item in ITEMS[1:] if matches(parse_filter(text), item)}
        assert wanted <= returned, text
