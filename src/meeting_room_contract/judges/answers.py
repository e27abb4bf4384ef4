"""Judges of one answer on its own: status, 5xx, error bodies, the room's shape, pinned behaviours."""

from __future__ import annotations

from typing import Any

from .. import rules
from .base import Answer, Failure, Verdict, json_or_none, judge, media_type
from .context import Context

GATEWAY_STATUSES = frozenset({502, 503, 504})
# Statuses a firewall or proxy in front of the API refuses a request with (a WAF's 403 to a body that
# looks like an attack, a proxy's size limits, 451): when the body is no JSON object, the API never saw
# the request. The API's own refusals carry a JSON object (contract: error bodies of the API are JSON).
FRONT_REFUSAL_STATUSES = frozenset({403, 406, 413, 414, 431, 451})
PROXY_HEADERS = ("Server", "Via", "X-Cache", "CF-Ray", "X-Amz-Cf-Id", "X-Azure-Ref")


def infrastructure_refusal(answer: Answer, api_signatures: frozenset[tuple[str | None, str | None]] | None = None) -> str | None:
    """How a firewall or proxy in front of the API refused the request (one line), or None when the
    answer may be the API's: a 403/406/413/414/431/451 whose body is not a JSON object (an HTML page,
    text, nothing), or whose `Server`/`Via` headers are none the API's own answers carried
    (`api_signatures`: the (Server, Via) pairs of the target's 2xx answers so far; a proxy that
    answers itself with a JSON body signs it otherwise). Such an answer says nothing about the
    contract: what it refused was not tested."""
    if answer.status_code not in FRONT_REFUSAL_STATUSES:
        return None
    signature = (answer.headers.get("Server"), answer.headers.get("Via"))
    if isinstance(json_or_none(answer), dict) and (not api_signatures or signature in api_signatures):
        return None
    marks = [f"{name}: {answer.headers[name][:40]}" for name in PROXY_HEADERS if answer.headers.get(name)]
    how = f"HTTP {answer.status_code} {media_type(answer) or 'no content type'}" + (f", {', '.join(marks)}" if marks else "")
    return how if not isinstance(json_or_none(answer), dict) else how + " (signed unlike the API's answers)"


@judge("server.never_5xx")
def never_5xx(answer: Answer, operation: str, situation: str) -> list[Failure]:
    """No 5xx answer; the failure tells a gateway page from an application error."""
    status = answer.status_code
    if status < 500:
        return []
    content_type = media_type(answer) or "no content type"
    attempts = getattr(answer, "gateway_attempts", 1)
    marks = [f"{name}: {answer.headers[name][:40]}" for name in PROXY_HEADERS[1:] if answer.headers.get(name)]
    if status in GATEWAY_STATUSES and (json_or_none(answer) is None or marks):
        origin = (f"a gateway/proxy answer ({content_type}{''.join(', ' + mark for mark in marks)}) that persisted over "
                  f"{attempts} attempt(s): the infrastructure in front of the API, or the API behind it, is down")
    elif status in GATEWAY_STATUSES:
        origin = (f"a gateway status with a JSON body ({content_type}), persisted over {attempts} attempt(s): from the API "
                  "or a gateway in front of it")
    elif json_or_none(answer) is None:
        origin = f"a {content_type} answer, from the API or a proxy in front of it"
    else:
        origin = f"an application error from the API ({content_type})"
    return [Failure("server.never_5xx", operation, situation, f"HTTP {status}, {origin}")]


def status_in(rule_id: str, answer: Answer, allowed: frozenset[int], operation: str, situation: str) -> list[Failure]:
    """The status is one of `allowed` (a check of `rule_id`)."""
    if answer.status_code in allowed:
        return []
    expected = " or ".join(map(str, sorted(allowed)))
    return [Failure(rule_id, operation, situation, f"expected HTTP {expected}, got {answer.status_code}")]


def pinned_choice(context: Context, behaviour: str, alternative: str, operation: str, situation: str = "") -> list[Failure] | None:
    """A pinned behaviour must take its pin (None: not pinned, nothing to check)."""
    pin = context.pins.get(behaviour)
    if pin is None:
        return None
    if alternative == pin:
        return []
    registered = rules.behaviour(behaviour)
    return [Failure(registered.rule, operation, situation or behaviour,
                    f"{behaviour}: the run pins {pin!r}, the target chose {alternative!r} ({registered.summary})",
                    expected=pin, observed=alternative)]


def observe(verdict: Verdict, context: Context, behaviour: str, alternative: str, operation: str) -> list[Failure]:
    """Record the allowed alternative the target picked; a pinned behaviour is checked under its rule."""
    verdict.observe(behaviour, alternative, operation)
    return verdict.add(rules.behaviour(behaviour).rule, operation, pinned_choice(context, behaviour, alternative, operation))


@judge("status.error_body_is_json")
def error_body_is_json(answer: Answer, operation: str) -> list[Failure]:
    """An API error (4xx except 401, which a gateway may answer) carries a JSON object."""
    if isinstance(json_or_none(answer), dict):
        return []
    return [Failure("status.error_body_is_json", operation, "error answer",
                    f"HTTP {answer.status_code} error body is not a JSON object")]


def error_body_shape(answer: Answer) -> str:
    data = json_or_none(answer)
    documented_like = isinstance(data, dict) and set(data) & {"message", "errors"} and isinstance(data.get("errors", []), list)
    return "message_errors" if documented_like else "other_object"


@judge("shape.meeting_room_schema")
def room_shape(context: Context, answer: Answer, operation: str, situation: str) -> list[Failure]:
    """The body is JSON and a Meeting Room object valid against the spec."""
    if media_type(answer) != "application/json":
        return [Failure("shape.meeting_room_schema", operation, situation,
                        f"Content-Type is {answer.headers.get('Content-Type', '')!r}, not JSON")]
    errors = context.model.room_errors(json_or_none(answer))
    if errors:
        return [Failure("shape.meeting_room_schema", operation, situation,
                        "not a valid MeetingRoom: " + "; ".join(errors[:5]))]
    return []


def parsed(answer: Answer) -> Any:
    return json_or_none(answer)
