"""The rule registry: every contract rule and every allowed behaviour, as objects.

`CONTRACT.md` explains each rule in words; this module is what the checks, the summary, the
failure messages and the fault-detection self-test read. A rule id used anywhere must be
registered here (`rule()` raises otherwise), and `tests/test_contract_doc.py` compares the ids with
`CONTRACT.md`.

* A **rule** is D (stated in the vendor docs) or A (the docs are silent; several behaviours
  are allowed).
* A **behaviour** is one choice the contract leaves to the server, with its allowed
  alternatives. The suite records which alternative the target picked; a *pin* (`--pin
  NAME=ALTERNATIVE`) narrows the alternatives to one, and any other is then a violation of
  the behaviour's rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(str, enum.Enum):
    DOCUMENTED = "D"
    ALLOWED = "A"


class UpdateOutcome(str, enum.Enum):
    """How a target answered a PATCH/PUT, once the answer has been judged."""

    APPLIED = "applied"  # 2xx, and the room is what the contract predicts
    REJECTED = "rejected"  # 4xx other than a proven conflict, nothing changed
    CONFLICT = "conflict"  # 409 (or 400/422) explained by a room of the account holding a code


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Kind
    summary: str
    source: str


@dataclass(frozen=True)
class Behaviour:
    """A choice the contract leaves to the server: the suite observes it and may pin it."""

    name: str
    rule: str
    alternatives: tuple[str, ...]
    summary: str

    def statuses(self) -> frozenset[int]:
        """The alternatives as HTTP statuses (for behaviours that are a choice of status)."""
        return frozenset(int(alternative) for alternative in self.alternatives)


D, A = Kind.DOCUMENTED, Kind.ALLOWED

RULES: dict[str, Rule] = {r.id: r for r in [
    # Shapes and statuses
    Rule("shape.meeting_room_schema", D, "Every 200 answer carrying a room is a JSON Meeting Room object valid against the spec.",
         "MR-OBJ, MR-UPDATE sample response"),
    Rule("shape.response_conformance", D, "Every answer of every operation matches the spec: documented status, content type and schema "
         "(schemathesis's conformance checks).", "the spec in openapi/, written from the docs"),
    Rule("status.documented_codes", D, "Success and not-found statuses are the documented ones: POST/GET/PATCH/PUT 200, unknown sid 404.",
         "MR-CREATE, MR-UPDATE, V2-RESPONSES"),
    Rule("status.error_body_is_json", A, "API error answers carry a JSON object (any shape); a 401 may come from a gateway with any body.",
         "V2-RESPONSES (shape not documented)"),
    Rule("server.never_5xx", D, "No answer is a 5xx: client input never causes one, a gateway 502/503/504 that persists after "
         "retries is reported, a 500 always is.", "V2-RESPONSES"),
    # PATCH
    Rule("patch.partial_update", D, "A PATCH sets the sent fields and keeps every other field; a valid PATCH is accepted.", "MR-UPDATE"),
    Rule("patch.empty_body", A, "`{}` is a valid PATCH body: 200 and nothing changes.", "MR-UPDATE (silent)"),
    Rule("patch.properties_merge_or_replace", A, "A PATCH of `properties` merges key by key or replaces the object: one rule all run.",
         "MR-UPDATE (silent on nested objects)"),
    Rule("patch.response_is_updated_object", D, "The PATCH answer is the full updated object: the state a GET reads back.", "MR-UPDATE"),
    Rule("patch.rejected_changes_nothing", A, "A refused PATCH (4xx) changes nothing.", "contract notes"),
    # PUT
    Rule("put.full_replacement", D, "A valid PUT sets every modifiable field to the body's values and is accepted.", "MR-UPDATE"),
    Rule("put.all_fields_required", D, "A PUT missing a modifiable field is refused (400/422) and changes nothing.", "MR-UPDATE note"),
    Rule("put.read_only_fields", A, "A PUT may omit the read-only fields, or the server may require them with their current values; "
         "one of the two is accepted.", "MR-UPDATE note ('all fields must be present')"),
    Rule("put.idempotent", D, "The same valid PUT twice is accepted twice and leaves the same state.", "MR-UPDATE (full replacement)"),
    Rule("put.response_is_updated_object", D, "The PUT answer is the full updated object: the state a GET reads back.", "MR-UPDATE"),
    Rule("put.rejected_changes_nothing", A, "A refused PUT (4xx) changes nothing.", "contract notes"),
    # Read-only fields
    Rule("read_only.never_applied", D, "A different `account_sid`/`meeting_room_sid` is refused (400/403/422) or ignored, never applied.",
         "MR-OBJ 'read only'"),
    Rule("read_only.current_value_accepted", A, "Sending the current read-only values is accepted.", "MR-UPDATE note"),
    # Bad input
    Rule("bad_input.rejected", A, "Invalid values, malformed JSON and unknown DID groups are refused (400/422, or 404 for an unknown "
         "referenced sid) with nothing changed.", "V2-RESPONSES"),
    Rule("bad_input.content_type", D, "A body without `Content-Type: application/json` is 415.", "V1-REQUESTS (sibling)"),
    Rule("bad_input.unknown_field", A, "An unknown body field is refused (400/422) or ignored, never stored or returned.",
         "contract notes"),
    # Access-code uniqueness
    Rule("uniqueness.within_room", D, "A code repeated in one body is refused (400/409/422) and changes nothing.",
         "MR-OBJ, V2-OVERVIEW"),
    Rule("uniqueness.across_rooms", D, "A code held by another room of the account with the same DID group (null included) is refused "
         "(400/409/422) and changes nothing.", "V2-OVERVIEW"),
    Rule("uniqueness.account_scope", D, "Uniqueness is scoped to one account: a code held only by another account's rooms is free "
         "(accepted), and no refusal reveals another account's rooms or codes.", "contract notes"),
    Rule("uniqueness.conflict_explained", D, "A 409 claims that another room holds a code: a room of the account must explain it, "
         "otherwise a valid update was refused.", "V2-OVERVIEW"),
    # Request forms and read paths
    Rule("request.json_body_forms", D, "A JSON body is the same input in every form: `application/json` with parameters "
         "(`; charset=utf-8`) or in another letter case is accepted as JSON; UTF-8 characters raw or as `\\u` escapes "
         "(surrogate pairs included) are the same value; a body sent chunked is applied exactly, or refused whole.",
         "contract notes (HTTP media types, RFC 8259, RFC 9112 chunked)"),
    Rule("read_paths.list_matches_get", D, "The room's item in the account's list (`GET /meeting_rooms`) is the room exactly as "
         "GET by sid shows it at that moment.", "contract notes (list envelope, D-sibling)"),
    # Round trip
    Rule("round_trip.exact_values", A, "Whatever value the server accepts comes back exactly as sent (edge values may be refused).",
         "contract notes"),
    # Lifecycle, auth, isolation, concurrency
    Rule("lifecycle.delete_then_404", D, "DELETE answers 204 (or 200); afterwards GET/PATCH/PUT of the sid are 404.",
         "V2-RESPONSES (sibling)"),
    Rule("auth.required", D, "Without valid credentials every operation is 401 and changes nothing.", "V1-REST"),
    Rule("isolation.accounts", A, "Another account's room is invisible (404 or 403) and unchanged; another account's DID group is refused.",
         "contract notes"),
    Rule("isolation.rooms", A, "An update of one room changes no other room.", "contract notes"),
    Rule("concurrency.no_lost_update", A, "Concurrent PATCHes of disjoint fields on one room all persist.", "contract notes"),
]}

BEHAVIOURS: dict[str, Behaviour] = {b.name: b for b in [
    Behaviour("properties_on_patch", "patch.properties_merge_or_replace", ("merge", "replace"),
              "how PATCH applies a nested `properties` object"),
    Behaviour("read_only_values", "read_only.never_applied", ("rejected", "ignored"),
              "what happens to a different read-only value in a body"),
    Behaviour("unknown_fields", "bad_input.unknown_field", ("rejected", "ignored"), "what happens to an unknown body field"),
    Behaviour("put_read_only_fields", "put.read_only_fields", ("optional", "required"),
              "whether a PUT must carry the current read-only values"),
    Behaviour("edge_values", "round_trip.exact_values", ("accepted", "refused"),
              "unusual names and property values (unicode, padding, long, undocumented value forms)"),
    Behaviour("edge_access_codes", "round_trip.exact_values", ("accepted", "refused"),
              "access codes of other lengths or with `*`/`#`"),
    Behaviour("chunked_request_body", "request.json_body_forms", ("accepted", "refused"),
              "a valid body sent with `Transfer-Encoding: chunked` (a front proxy may want a length: 411)"),
    Behaviour("codes_across_did_groups", "uniqueness.across_rooms", ("shared", "refused"),
              "whether rooms in different DID groups may hold the same code"),
    Behaviour("error_body_shape", "status.error_body_is_json", ("message_errors", "other_object"),
              "the shape of JSON error bodies (`{message, errors}` as the SDKs read, or another object)"),
    Behaviour("unauthorized_body", "auth.required", ("json", "not_json"), "the body of a 401 (a gateway may answer it)"),
    Behaviour("delete_status", "lifecycle.delete_then_404", ("204", "200"), "the status of a successful DELETE"),
    Behaviour("foreign_room_status", "isolation.accounts", ("404", "403"), "the status for another account's room"),
    Behaviour("status_invalid_value", "bad_input.rejected", ("400", "422"), "the status refusing an invalid value"),
    Behaviour("status_malformed_json", "bad_input.rejected", ("400",), "the status refusing a body that is not JSON (D: 400)"),
    Behaviour("status_unknown_did_group", "bad_input.rejected", ("400", "404", "422"),
              "the status refusing a `did_group_sid` that names no DID group of the account"),
    Behaviour("status_missing_put_field", "put.all_fields_required", ("400", "422"), "the status refusing an incomplete PUT"),
    Behaviour("status_read_only_value", "read_only.never_applied", ("400", "403", "422"),
              "the status refusing a different read-only value"),
    Behaviour("status_unknown_field", "bad_input.unknown_field", ("400", "422"), "the status refusing an unknown field"),
    Behaviour("status_duplicate_code", "uniqueness.within_room", ("400", "409", "422"),
              "the status refusing a code repeated in one body"),
    Behaviour("status_code_in_use", "uniqueness.across_rooms", ("400", "409", "422"),
              "the status refusing a code another room of the account holds"),
]}

# -- pins ------------------------------------------------------------------------------------------


def parse_pins(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`NAME=ALTERNATIVE` strings (also comma-separated) into a dict; ValueError says what is wrong."""
    pins: dict[str, str] = {}
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, alternative = item.partition("=")
            behaviour = BEHAVIOURS.get(name.strip())
            if not sep or behaviour is None:
                raise ValueError(f"--pin {item!r}: expected NAME=ALTERNATIVE with NAME one of {', '.join(BEHAVIOURS)}")
            if alternative.strip() not in behaviour.alternatives:
                raise ValueError(f"--pin {item!r}: {name} is one of {', '.join(behaviour.alternatives)}")
            pins[name.strip()] = alternative.strip()
    return pins


def rule(rule_id: str) -> Rule:
    """The registered rule (KeyError for an id that is not in the registry: a bug in the suite)."""
    return RULES[rule_id]


def behaviour(name: str) -> Behaviour:
    return BEHAVIOURS[name]
