"""Schemathesis wiring: the schema pointed at the target, the checks we run, safe case sending."""

from __future__ import annotations

import uuid
from typing import Any

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.transport.prepare import get_exclude_headers
from schemathesis.specs.openapi.checks import (allow_header_conformance, content_type_conformance, ignored_auth,
                                               negative_data_rejection, positive_data_acceptance,
                                               response_schema_conformance, unsupported_method)

from schemathesis.core.failures import Failure, FailureGroup

from . import actions, rooms
from .client import ConferenceClient
from .judges import ContractViolation
from .run import Run

# Built-in checks replaced by contract-aware ones (each would cry wolf on a conforming server):
# * positive_data_acceptance: the spec cannot say which DID groups exist or that codes must be
#   unique; `checks.update_outcome` judges every answer instead, and the hypothesis properties
#   require acceptance of values the contract says are valid.
# * ignored_auth: its probes bypass our session, so a 429 looks like "auth not enforced";
#   `contracts/test_auth.py` checks every operation through the polite session.
# * unsupported_method / allow_header_conformance: undocumented methods are outside the contract.
REPLACED_CHECKS = [positive_data_acceptance, ignored_auth, unsupported_method, allow_header_conformance]
# Invalid list query parameters are not part of the contract either (a server may ignore them).
LIST_EXTRA_EXCLUDED = [negative_data_rejection]
# PATCH/PUT bodies: `checks.judge_update` judges invalid values by the spec's body schema (the
# model's jsonschema validation), with the contract's allowances: a read-only field with a value
# of the wrong type may be ignored (`read_only.never_applied`, A), which schemathesis would call
# "schema-violating data accepted".
UPDATE_EXTRA_EXCLUDED = [negative_data_rejection]

UPDATE_METHODS = ("PATCH", "PUT")

# The rule each schemathesis failure kind is a violation of (anything else: response conformance).
FAILURE_RULES = {
    "ServerError": "server.never_5xx",
    "UndefinedStatusCode": "status.documented_codes",
    "AcceptedNegativeData": "bad_input.rejected",
    "MissingHeaderNotRejected": "auth.required",
    "UseAfterFree": "lifecycle.delete_then_404",
    "EnsureResourceAvailability": "lifecycle.delete_then_404",
}
CONFORMANCE_RULE = "shape.response_conformance"


def validate_by_rule(run: Run, case: Any, response: Any, operation: str, *, raw: requests.Response | None = None,
                     **kwargs: Any) -> None:
    """schemathesis's checks on one answer, each failure counted and raised under our rule ids.

    `raw` is the requests answer behind a schemathesis `Response` (for the reproduction)."""
    refused_in_front = actions.front_refusal(run, raw if raw is not None else response)
    if refused_in_front is not None:  # a firewall or proxy answered, not the API: nothing of the contract to judge
        run.recorder.unchecked(CONFORMANCE_RULE, operation, refused_in_front)
        return
    kwargs["excluded_checks"] = excluded_checks(case, response, kwargs.get("excluded_checks", []))
    judge = actions.answer_judge("conformance", method=case.method.upper(), path=case.operation.path,
                                 excluded=[check.__name__ for check in kwargs["excluded_checks"]])
    with actions.rule(run, CONFORMANCE_RULE, operation):
        try:
            case.validate_response(response, **kwargs)
        except (Failure, FailureGroup) as error:
            failures = _in_rule_order(list(error.exceptions) if isinstance(error, FailureGroup) else [error])
            rule_id = failure_rule(failures)
            details = "; ".join(f"{f.title}: {f.message}".strip() for f in failures)
            raise actions.violated(run, rule_id, f"{case.method.upper()} {case.formatted_path}: {details}",
                                   response=raw if raw is not None else response, operation=operation,
                                   situation=" / ".join(sorted({f.title for f in failures})), judge=judge) from None


def failure_rule(failures: list[Any]) -> str:
    """Our rule for schemathesis's failures: the most basic kind among them, in FAILURE_RULES's order (a
    500 is `server.never_5xx` whether schemathesis lists "Server error" or "Undocumented status code"
    first: its order varies, and one bug would be two groups); else response conformance."""
    kinds = {type(f).__name__ for f in failures}
    return next((rule_id for kind, rule_id in FAILURE_RULES.items() if kind in kinds), CONFORMANCE_RULE)


def _in_rule_order(failures: list[Any]) -> list[Any]:
    """The failures with the most basic kind first (FAILURE_RULES's order), then as schemathesis gave them."""
    rank = {kind: index for index, kind in enumerate(FAILURE_RULES)}
    return sorted(failures, key=lambda f: rank.get(type(f).__name__, len(rank)))


def excluded_checks(case: Any, response: Any, excluded: list[Any]) -> list[Any]:
    """The checks left out for this answer (also what `replay` leaves out when it checks it again)."""
    kwargs: dict[str, Any] = {"excluded_checks": list(excluded)}
    if response.status_code == 401:
        # A 401 may come from an edge gateway with any body or none (contract A): its body is judged
        # by checks.error_body_is_json_object alone, not by the spec's content type and schema.
        kwargs["excluded_checks"] = [*kwargs.get("excluded_checks", []), content_type_conformance,
                                     response_schema_conformance]
    elif _empty_where_any_body_allowed(case, response):
        # An empty answer (e.g. DELETE 200 with Content-Length: 0) where the spec documents any body
        # (`*/*` with the schema `{}`): ordinary HTTP sends no Content-Type with no content, and no
        # content is "any body". schemathesis would call it a missing Content-Type (both of these
        # checks say so). Every other answer keeps both checks.
        kwargs["excluded_checks"] = [*kwargs.get("excluded_checks", []), content_type_conformance,
                                     response_schema_conformance]
    return kwargs["excluded_checks"]


def conformance_failures(spec_path: str, method: str, path: str, response: Any, excluded_names: list[str]) -> list[Any]:
    """schemathesis's response checks on one answer to `method path` (no generated case: the checks
    that look at the answer alone), leaving out the checks named: what `replay` runs again."""
    from schemathesis.specs.openapi import checks as openapi_checks

    operation = schemathesis.openapi.from_path(spec_path)[path][method]
    case = operation.Case()
    excluded = [getattr(openapi_checks, name) for name in excluded_names if hasattr(openapi_checks, name)]
    try:
        case.validate_response(response, excluded_checks=excluded_checks(case, response, excluded))
    except (Failure, FailureGroup) as error:
        return list(error.exceptions) if isinstance(error, FailureGroup) else [error]
    return []


ANY_MEDIA_TYPE = "*/*"


def _empty_where_any_body_allowed(case: Any, response: Any) -> bool:
    """The answer has no body at all and the spec documents any body for its status: the media
    type `*/*` with no schema or the schema `{}`."""
    content = getattr(response, "content", None)
    if content is None or len(content) > 0:
        return False
    documented = case.operation.responses.find_by_status_code(response.status_code)  # None: an undocumented status
    media = (documented.definition.get("content") or {}).get(ANY_MEDIA_TYPE) if documented is not None else None
    return isinstance(media, dict) and media.get("schema", {}) in ({}, True)


def load_schema(run: Run) -> schemathesis.schemas.BaseSchema:
    """The run's spec pointed at the run's target; links only from the spec."""
    schema = schemathesis.openapi.from_path(str(run.spec.path))
    target = run.target
    # No basic_auth here: the polite session adds the credentials, so they never sit in a case
    # (whose repr a failure would print).
    schema.config.update(base_url=target.base_url)
    # Explicit links only: an inferred list -> item link could aim PATCH at rooms we did not create.
    schema.config.phases.stateful.inference.algorithms = []
    # No probes with undocumented methods: they are outside the contract, and an authenticated
    # DELETE /meeting_rooms could wipe an account on a deployment that happens to support it.
    schema.config.phases.coverage.unexpected_methods = set()
    return schema


def pin_room(case: Any, sid: str, client: ConferenceClient) -> str | None:
    """Aim the case at `sid`; a case whose path id is the invalid part gets a fresh unknown sid.

    Returns the sid whose state the case may change, or None for an unknown one.
    """
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        case.path_parameters = {"meeting_room_sid": client.registry.unknown_sid()}
        return None
    case.path_parameters = {"meeting_room_sid": sid}
    return sid


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def send(run: Run, case: Any, client: ConferenceClient) -> requests.Response:
    """Send a generated case through the client's polite session (retries, timeout, rate limit).

    A generated room gets a name with the run's prefix (when its name is not the invalid part):
    recognisable as ours on staging, and found again after a gateway error.
    """
    path = case.formatted_path
    if case.method.upper() == "POST" and path == "/meeting_rooms" and isinstance(case.body, dict) \
            and isinstance(case.body.get("name", ""), str):
        case.body = {**case.body, "name": rooms.generated_name(client.registry, uuid.uuid4().hex[:8])}
    if case.method.upper() == "PUT" and isinstance(case.body, dict) and case.path_parameters:
        # As the target wants a PUT (the read-only fields when it requires them): the sid in the
        # path and the login's account, also for a room that is unknown or deleted.
        sid = next(iter(case.path_parameters.values()))
        if isinstance(sid, str):
            case.body = actions.complete_put_for(run, case.body, sid, client)
    kwargs = case.as_transport_kwargs(base_url=client.base_url)
    if "Authorization" in get_exclude_headers(case):
        kwargs["auth"] = _no_auth  # the case is about a missing Authorization header
    elif not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)):
        # schemathesis fills the security scheme with made-up credentials; the session's replace them
        (kwargs.get("headers") or {}).pop("Authorization", None)
    kwargs.pop("method")
    response = client.send(case.method, path, **kwargs)
    if case.method.upper() == "POST" and path == "/meeting_rooms":
        client.record_if_created(response, case.body)
    return response
