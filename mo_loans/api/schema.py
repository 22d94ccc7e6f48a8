"""drf-spectacular: the parts of the API contract views cannot state.

:class:`AutoSchema` (``DEFAULT_SCHEMA_CLASS``) adds to each operation what the
API's shared layers answer, each from the layer that answers it:

* the error answers it can give, all with the one ``Error`` body
  ``{"code", "message"[, "fields"]}`` (:meth:`AutoSchema.error_statuses`);
* the optional ``Idempotency-Key`` header of every keyed method
  (:data:`mo_loans.api.idempotency.KEYED_METHODS`).

The paginator describes its own parameters
(:meth:`mo_loans.api.pagination.PageNumberPagination.get_schema_operation_parameters`);
the field extensions below give money, rates, ids and date-times the patterns
built from the constants their serializer fields validate with. The
postprocessing hook adds what only the whole schema shows:

* every status is named (``x-enum-varnames``, ``x-enum-descriptions`` and a
  description of each value) from the model's choices, and a list's ``status``
  filter refers to the same enum as its items;
* summaries and descriptions are the client-facing texts of
  :mod:`mo_loans.api.schema_docs`;
* OpenAPI links say how operations chain (a created customer's ``external_id``
  is the path of its detail, balance, loans and payments, and the
  ``customer_external_id`` of a new loan or payment; a created loan can be
  read, activated, rejected and paid), so clients and the schema fuzzer can
  follow them.
"""

from __future__ import annotations

import importlib
import re
from decimal import Decimal
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter

from mo_loans import ids
from mo_loans.api import schema_docs
from mo_loans.api.enums import api_values
from mo_loans.api.idempotency import KEY_PATTERN, KEYED_METHODS
from mo_loans.api.serializers import (
    YEAR_PATTERN,
    BoundedDateTimeField,
    ExternalIdField,
    InputSerializer,
    MoneyField,
    StrictDecimalField,
    decimal_out_pattern,
    decimal_pattern,
    positive_decimal_pattern,
    rate_pattern,
)
from mo_loans.limits import DATETIME_MAX_YEAR, DATETIME_MIN_YEAR

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx/5xx answer under /api/.",
    "properties": {
        "code": {"type": "string", "description": "A stable machine-readable code."},
        "message": {"type": "string", "description": "For a person."},
        "fields": {
            "type": "object",
            "description": "Validation errors: field name to its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "message"],
    # Some errors add context, e.g. credit_line_exceeded names the available amount.
    "additionalProperties": True,
}

ERROR_DESCRIPTIONS = {
    "400": "The request is malformed or invalid (bad field, unknown reference, duplicate).",
    "401": "No valid API key (`Authorization: Api-Key <key>`).",
    "404": "No such resource (or page).",
    "409": "A request with the same Idempotency-Key is still running, or a conflict.",
    "413": "The request body is larger than the server accepts.",
    "415": "The request body is not JSON.",
    "422": "A valid request that the business rules refuse.",
    "429": "Too many failed API keys from this client address; retry after `Retry-After`.",
    "503": "The database is unavailable or too busy; nothing was written, retry later.",
}

# The methods whose request carries a body: DRF parses one for these only.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")  # /api/loans/{external_id}


class InputSerializerExtension(OpenApiSerializerExtension):
    """An :class:`InputSerializer` refuses unknown fields: ``additionalProperties: false``."""

    target_class = InputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        for prop in schema.get("properties", {}).values():
            _no_nul(prop)
        return schema


class DecimalFieldExtension(OpenApiSerializerFieldExtension):
    """Decimals as the API takes them: a string in plain notation or a JSON number.

    drf-spectacular's own pattern for a ``DecimalField`` also allows ``""``,
    ``"-"`` and negatives; these say exactly what :class:`StrictDecimalField`
    accepts, so a schema-valid request is never refused for its syntax.
    """

    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if isinstance(field, MoneyField):
            integer_digits = field.max_digits - field.decimal_places
            if direction == "response":
                pattern = decimal_out_pattern(integer_digits, field.decimal_places)
                return {"type": "string", "format": "decimal", "pattern": f"^{pattern}$"}
            syntax = positive_decimal_pattern if field.positive else decimal_pattern
            pattern = f"^0*{syntax(integer_digits, field.decimal_places)}$"
            number = {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": field.positive,
                "maximum": float(
                    Decimal(10) ** integer_digits - Decimal(1).scaleb(-field.decimal_places)
                ),
                "multipleOf": float(Decimal(1).scaleb(-field.decimal_places)),
            }
            description = (
                'Money: a string such as "110000.00" or a JSON number in plain notation '
                "(110000, 110000.5; never 1.1e5), at most 2 decimals."
            )
        elif field.min_value == 0 and field.max_value == 1 and field.decimal_places == 4:
            pattern = f"^{rate_pattern(field.decimal_places)}$"
            number = {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "multipleOf": float(Decimal(1).scaleb(-field.decimal_places)),
            }
            description = (
                "A fraction from 0 to 1 with at most 4 decimals: a string or a JSON number "
                "in plain notation (no exponent)."
            )
        else:  # pragma: no cover - every StrictDecimalField today is one of the above
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        return {
            "anyOf": [{"type": "string", "format": "decimal", "pattern": pattern}, number],
            "description": description,
        }


# An external id, in a body or a path (SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"]).
EXTERNAL_ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": ids.MAX_LENGTH,
    "pattern": ids.DB_PATTERN,
    "description": f"An id: {ids.ALPHABET_DESCRIPTION}.",
}


class ExternalIdFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ExternalIdField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = dict(EXTERNAL_ID_SCHEMA)
        if getattr(self.target, "allow_null", False):
            schema["nullable"] = True
        return schema


class BoundedDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A date-time written in the years the API takes (``pattern`` on the year)."""

    target_class = BoundedDateTimeField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = YEAR_PATTERN
            schema["description"] = (
                f"ISO 8601, written in the years {DATETIME_MIN_YEAR} to {DATETIME_MAX_YEAR}."
            )
        return schema


# PostgreSQL text cannot hold a NUL character; the API refuses it in every string.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _no_nul(schema: dict[str, Any]) -> None:
    plain = schema.get("type") == "string" and not {"format", "enum", "pattern"} & set(schema)
    if plain:
        schema["pattern"] = NO_NUL_PATTERN


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # The middleware's own pattern (mo_loans.api.idempotency.KEY_PATTERN).
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN.pattern},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes a retried POST safe: a repeat with the same key and body returns the first "
        "answer; the same key with another body is 422; a repeat while the first runs is 409."
    ),
)


def parameter_order(parameter: dict[str, Any]) -> tuple[bool, str]:
    """``SORT_OPERATION_PARAMETERS``: by name, headers last."""
    return parameter["in"] == OpenApiParameter.HEADER, parameter["name"]


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's ``AutoSchema`` plus what this API's shared layers add to an operation."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method in KEYED_METHODS:
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def error_statuses(self) -> list[str]:
        """The error answers of this operation, each from the layer that gives it."""
        codes = {"400", "503"}  # invalid input (exception_handlers); the database away
        if self.view.get_permissions():  # HasAPIKeyOrThrottled: no valid key, too many failures
            codes |= {"401", "429"}
        if _PATH_PARAMETER.search(self.path) or self._get_pagination_parameters():
            codes.add("404")  # no such resource; a page past the last
        if self.method in BODY_METHODS:  # a body: too large, not JSON; an integrity conflict
            codes |= {"409", "413", "415"}
        if self.method in KEYED_METHODS:  # the key reused for another body; business rules
            codes.add("422")
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_statuses():
            responses.setdefault(code, self._error_response(code))
        return responses

    def _error_response(self, code: str) -> dict[str, Any]:
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        response: dict[str, Any] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"schema": component.ref}},
        }
        if code == "401":
            response["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Api-Key`"}
            }
        if code == "429":
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            }
        return response

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.view, "request_body_required", False):
            body["required"] = True  # a list or a per-media-type body, which it cannot tell
        return body


def _link(operation_id: str, parameters=None, request_body=None, description="") -> dict:
    link: dict[str, Any] = {"operationId": operation_id}
    if parameters:
        link["parameters"] = parameters
    if request_body:
        link["requestBody"] = request_body
    if description:
        link["description"] = description
    return link


_CUSTOMER_ID = "$response.body#/external_id"
_LOAN_ID = "$response.body#/external_id"
_PAYMENT_ID = "$response.body#/external_id"

# operationId of the producer -> (status code, {link name: link}).
LINKS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "customers_create": (
        "201",
        {
            "GetCustomer": _link("customers_retrieve", {"path.external_id": _CUSTOMER_ID}),
            "UpdateCustomer": _link("customers_partial_update", {"path.external_id": _CUSTOMER_ID}),
            "GetBalance": _link("customers_balance_retrieve", {"path.external_id": _CUSTOMER_ID}),
            "ListLoans": _link("customers_loans_list", {"path.external_id": _CUSTOMER_ID}),
            "ListPayments": _link("customers_payments_list", {"path.external_id": _CUSTOMER_ID}),
            "CreateLoan": _link(
                "loans_create",
                request_body={"customer_external_id": _CUSTOMER_ID},
                description="A loan for the new customer.",
            ),
        },
    ),
    "loans_create": (
        "201",
        {
            "GetLoan": _link("loans_retrieve", {"path.external_id": _LOAN_ID}),
            "GetSchedule": _link("loans_schedule", {"path.external_id": _LOAN_ID}),
            "ActivateLoan": _link("loans_activate", {"path.external_id": _LOAN_ID}),
            "RejectLoan": _link("loans_reject", {"path.external_id": _LOAN_ID}),
        },
    ),
    "loans_activate": (
        "200",
        {
            "GetLoan": _link("loans_retrieve", {"path.external_id": _LOAN_ID}),
            "GetSchedule": _link("loans_schedule", {"path.external_id": _LOAN_ID}),
            "PayLoan": _link(
                "payments_create",
                request_body={
                    "customer_external_id": "$response.body#/customer_external_id",
                    "loan_external_id": _LOAN_ID,
                },
                description="A payment to the activated loan.",
            ),
            "PayCustomer": _link(
                "payments_create",
                request_body={"customer_external_id": "$response.body#/customer_external_id"},
                description="A payment spread over the customer's active loans.",
            ),
        },
    ),
    "payments_create": (
        "201",
        {
            "GetPayment": _link("payments_retrieve", {"path.external_id": _PAYMENT_ID}),
            "GetCustomerBalance": _link(
                "customers_balance_retrieve",
                {"path.external_id": "$response.body#/customer_external_id"},
            ),
        },
    ),
}


def _blank_emails(component: dict[str, Any]) -> None:
    """An optional email is stored and answered as ``""`` when none was given."""
    for name, prop in component.get("properties", {}).items():
        if prop.get("format") == "email":
            component["properties"][name] = {
                "oneOf": [prop, {"type": "string", "maxLength": 0, "readOnly": True}],
                "description": "An email address, or empty when none was given.",
            }


def _name_enum(name: str, component: dict[str, Any], choices: Any) -> None:
    """Name every value of an enum component after its choices, planned values included."""
    meanings = schema_docs.VALUE_MEANINGS.get(name, {})
    values = api_values(choices)
    descriptions = [meanings.get(value, label) for value, _, label in values]
    component["enum"] = [value for value, _, _ in values]
    component["x-enum-varnames"] = [varname for _, varname, _ in values]
    component["x-enum-descriptions"] = descriptions
    component["description"] = "\n".join(
        f"* `{value}` {varname}: {text}"
        for (value, varname, _), text in zip(values, descriptions, strict=True)
    )


def _load(dotted: str) -> Any:
    """``"customers.models.Customer.Status"``: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(dotted)


def _name_enums(components: dict[str, Any]) -> None:
    """Enums named in ``ENUM_NAME_OVERRIDES`` take their names from their choices.

    Any other enum of strings is named after its values (``"due"`` → ``DUE``);
    an integer enum must be listed there (a test checks that none is left unnamed).
    """
    for name, dotted in spectacular_settings.ENUM_NAME_OVERRIDES.items():
        if name in components:
            _name_enum(name, components[name], _load(dotted))
    for component in components.values():
        values = component.get("enum")
        if (
            values
            and "x-enum-varnames" not in component
            and all(isinstance(value, str) for value in values)
        ):
            component["x-enum-varnames"] = [
                re.sub(r"[^0-9A-Za-z]+", "_", value).strip("_").upper() or "BLANK"
                for value in values
            ]


def _ref_name(schema: dict[str, Any]) -> str | None:
    """The component a property refers to, directly or through ``allOf``."""
    for candidate in [schema, *schema.get("allOf", [])]:
        ref = candidate.get("$ref")
        if ref:
            return ref.rsplit("/", 1)[-1]
    return None


def _items_status_enum(operation: dict[str, Any], components: dict[str, Any]) -> str | None:
    """The enum of the ``status`` of the items an operation lists, if it lists any."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    page = components.get(_ref_name(content.get("application/json", {}).get("schema", {})) or "")
    items = (page or {}).get("properties", {}).get("results", {}).get("items", {})
    item = components.get(_ref_name(items) or "", {})
    return _ref_name(item.get("properties", {}).get("status", {}))


def _describe(path: str, operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Client-facing summary, description and parameter texts (``schema_docs``)."""
    summary, description = schema_docs.OPERATIONS.get(operation.get("operationId", ""), ("", ""))
    if summary:
        operation["summary"] = summary
        operation["description"] = description
    resource = schema_docs.PATH_RESOURCES.get(path.split("/")[2], "resource")
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter.get("in")
        if where == "path" and name == "external_id":
            parameter["description"] = f"The `external_id` the {resource} was created with."
        elif where == "query" and name == "status":
            enum = _items_status_enum(operation, components)
            if enum:
                parameter["schema"] = {"$ref": f"#/components/schemas/{enum}"}
                parameter["description"] = "Only those with this status:\n" + components[enum].get(
                    "description", ""
                )
        elif where == "query" and name in schema_docs.QUERY_PARAMETERS:
            parameter["description"] = schema_docs.QUERY_PARAMETERS[name]


def _describe_pages(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """A page's ``next``/``previous`` examples are this API's URLs, not a made-up host's."""
    done: set[str] = set()
    for path in sorted(paths, key=len):  # the shortest list path of each page type
        content = paths[path].get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        name = _ref_name(content.get("application/json", {}).get("schema", {})) or ""
        if not name.startswith("Paginated") or name in done:
            continue
        done.add(name)
        url = "http://127.0.0.1:8000" + path.replace("{external_id}", "ana")
        properties = components[name]["properties"]
        properties["count"].update(example=120, description="How many there are in all.")
        properties["next"].update(
            example=f"{url}?page=3", description="The next page's URL; null on the last page."
        )
        properties["previous"].update(
            example=f"{url}?page=1", description="The previous page's URL; null on the first."
        )


def _describe_components(components: dict[str, Any]) -> None:
    for name, component in components.items():
        if name in schema_docs.COMPONENTS:
            component["description"] = schema_docs.COMPONENTS[name]
        if not name.endswith("Request"):
            _blank_emails(component)


def postprocess_schema(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`` entry (after the enum hook)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    _name_enums(components)
    _describe_components(components)
    _describe_pages(result.get("paths", {}), components)
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema", {}))
            _describe(path, operation, components)
            producer = LINKS.get(operation.get("operationId", ""))
            if producer:
                status, links = producer
                if status in operation["responses"]:
                    operation["responses"][status]["links"] = links
    return result
