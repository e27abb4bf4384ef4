"""Named behaviours the mock can be started with.

A *fault* is a contract violation written as the bug a real backend would have; the suite must
catch every one. A *variant* is another behaviour the contract allows (or a hostile but legal
server: slow, rate limited); the suite must pass every one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    name: str
    rule: str
    description: str


FAULTS: dict[str, Behaviour] = {
    b.name: b
    for b in [
        # PATCH semantics
        Behaviour("patch_resets_omitted_fields", "patch.partial_update",
                  "PATCH reuses the PUT code path: modifiable fields missing from the body are reset to defaults."),
        Behaviour("patch_ignores_null_did_group", "patch.partial_update",
                  "PATCH treats `did_group_sid: null` as 'not sent', so the old DID group stays (value-specific)."),
        Behaviour("patch_empty_body_rejected", "patch.empty_body",
                  "PATCH with `{}` is answered 422 'nothing to update' instead of 200 with no change."),
        Behaviour("patch_response_stale", "patch.response_is_updated_object",
                  "PATCH stores the update but answers with the object as it was before."),
        Behaviour("patch_properties_not_persisted", "patch.partial_update",
                  "PATCH answers with the new properties but never writes them (only for `properties`)."),
        Behaviour("patch_ignores_empty_values", "patch.partial_update",
                  "PATCH takes a field sent with an empty value (`null`, `[]`, `{}`, `\"\"`) as not sent: the old value "
                  "stays (answered 200; PUT is right)."),
        Behaviour("properties_mode_depends_on_size", "patch.properties_merge_or_replace",
                  "PATCH merges `properties` when one key is sent but replaces when several are: not one rule."),
        Behaviour("properties_merge_drops_empty_values", "round_trip.exact_values",
                  "PATCH merge deletes a key whose new value is the empty string (an edge value): an accepted value "
                  "does not come back."),
        Behaviour("rejected_patch_partially_applied", "patch.rejected_changes_nothing",
                  "PATCH saves `name` before validating `access_codes`; the 422 leaves the new name behind."),
        Behaviour("rejected_put_partially_applied", "put.rejected_changes_nothing",
                  "PUT saves `properties` before validating the rest; the refusal leaves the new properties behind."),
        # PUT semantics
        Behaviour("put_missing_field_accepted", "put.all_fields_required",
                  "PUT without some modifiable fields is accepted and keeps their old values (acts as PATCH)."),
        Behaviour("put_merges_properties", "put.full_replacement",
                  "PUT merges `properties` into the old object instead of replacing it."),
        Behaviour("put_keeps_old_on_empty", "put.full_replacement",
                  "PUT keeps the old value of a field sent with an empty value (`null`, `[]`, `{}`, `\"\"`), answered 200 "
                  "(PATCH is right)."),
        Behaviour("put_unchanged_body_rejected", "put.idempotent",
                  "A PUT that changes nothing (the same PUT sent again) is refused 422 'nothing to update'."),
        Behaviour("put_response_stale", "put.response_is_updated_object",
                  "PUT stores the new room but answers with the object as it was before."),
        Behaviour("put_rejects_read_only_fields", "put.read_only_fields",
                  "PUT refuses a body with the read-only fields and also one without them: no PUT is possible."),
        # Read-only fields
        Behaviour("patch_applies_account_sid", "read_only.never_applied",
                  "PATCH writes a sent `account_sid`, moving the room to another account."),
        Behaviour("put_applies_meeting_room_sid", "read_only.never_applied",
                  "PUT re-keys the room under a sent `meeting_room_sid`."),
        Behaviour("read_only_current_value_rejected", "read_only.current_value_accepted",
                  "A body that echoes the room's current `account_sid` is rejected 422."),
        # Response shape and status codes
        Behaviour("null_did_group_omitted", "shape.meeting_room_schema",
                  "Responses leave `did_group_sid` out when it is null (value-specific)."),
        Behaviour("list_envelope_without_total", "shape.response_conformance",
                  "GET /meeting_rooms answers a list envelope without `total` and `has_more`."),
        Behaviour("create_requires_name", "status.documented_codes",
                  "POST /meeting_rooms without a `name` is refused 422, though `{}` is a documented valid body."),
        Behaviour("create_returns_201", "status.documented_codes",
                  "POST /meeting_rooms answers 201 instead of the documented 200."),
        Behaviour("error_body_not_json", "status.error_body_is_json",
                  "404 answers are an HTML page instead of a JSON error object."),
        Behaviour("deleted_room_still_readable", "lifecycle.delete_then_404",
                  "DELETE answers 204 but a soft-deleted room is still served by GET."),
        Behaviour("put_creates_unknown_room", "status.documented_codes",
                  "PUT to a sid that names no room creates it (an upsert) instead of 404."),
        Behaviour("persistent_gateway_error_on_put", "server.never_5xx",
                  "Every PUT that sets a DID group is answered 503 with a proxy's HTML page (the backend times out)."),
        # Round trip
        Behaviour("name_whitespace_trimmed", "round_trip.exact_values",
                  "Names are stored with surrounding whitespace stripped."),
        Behaviour("long_name_truncated", "round_trip.exact_values",
                  "Names longer than 100 characters are silently truncated (value-specific)."),
        Behaviour("non_latin1_mangled", "round_trip.exact_values",
                  "Characters outside Latin-1 in names are replaced by '?' (a legacy column encoding)."),
        Behaviour("numeric_property_values_coerced", "shape.meeting_room_schema",
                  "Property values that look like integers come back as JSON numbers."),
        Behaviour("access_code_leading_zeros_dropped", "patch.partial_update",
                  "Access codes are stored as integers: '007123' comes back as '7123' (value-specific)."),
        Behaviour("non_ascii_replaced_with_question_mark", "round_trip.exact_values",
                  "Every non-ASCII character of a stored name becomes '?' (POST, PATCH and PUT)."),
        Behaviour("names_normalised_to_nfc", "round_trip.exact_values",
                  "Names are stored NFC-normalised (a decomposed 'e' + U+0301 comes back as one 'é')."),
        Behaviour("astral_characters_dropped", "round_trip.exact_values",
                  "Characters outside the Basic Multilingual Plane (emoji) are removed from stored names and property values."),
        Behaviour("invisible_characters_stripped", "round_trip.exact_values",
                  "Zero-width and invisible characters (U+200B-U+200D, U+2060, U+FEFF) are removed from stored names."),
        Behaviour("properties_truncated_at_20_keys", "round_trip.exact_values",
                  "A `properties` object with more than 20 keys keeps only the first 20 (answered 200)."),
        Behaviour("access_codes_truncated_at_10", "round_trip.exact_values",
                  "More than 10 access codes: only the first 10 are stored (answered 200)."),
        Behaviour("post_drops_empty_values", "round_trip.exact_values",
                  "POST leaves out every field sent with an empty value and gives it the default of a field not sent: "
                  "a room created with an empty name reads back with `name: null`."),
        Behaviour("property_keys_dotted_nested", "round_trip.exact_values",
                  "A property key with a dot is a path to the store (`a.b` is stored as `{\"a\": {\"b\": v}}`), which the "
                  "string-only serializer leaves out of every answer: the key is lost (answered 200)."),
        Behaviour("property_keys_lowercased", "round_trip.exact_values",
                  "Property keys are stored in lower case (`Mode` comes back as `mode`; of `Mode` and `mode`, one is left)."),
        Behaviour("property_keys_dollar_dropped", "round_trip.exact_values",
                  "An input sanitizer against operator injection removes property keys starting with `$` (answered 200)."),
        # Bad input
        Behaviour("duplicate_codes_accepted", "uniqueness.within_room",
                  "An access code repeated inside one body is accepted."),
        Behaviour("unknown_did_group_accepted", "bad_input.rejected",
                  "A `did_group_sid` that names no DID group is stored."),
        Behaviour("invalid_role_server_error", "server.never_5xx",
                  "An unknown access-code role raises KeyError: 500."),
        Behaviour("malformed_json_server_error", "server.never_5xx",
                  "A body that is not JSON raises: 500 instead of 400."),
        Behaviour("missing_content_type_accepted", "bad_input.content_type",
                  "A body without `Content-Type: application/json` is parsed anyway instead of 415."),
        Behaviour("unknown_field_stored", "bad_input.unknown_field",
                  "Unknown body fields are stored and returned with the room."),
        # Request forms and read paths
        Behaviour("charset_content_type_refused", "request.json_body_forms",
                  "A Content-Type with parameters (`application/json; charset=utf-8`) or not in lower case is refused 415."),
        Behaviour("raw_utf8_body_misdecoded", "request.json_body_forms",
                  "Body bytes are decoded as Latin-1 before JSON parsing: raw UTF-8 non-ASCII is mangled (\\u escapes are fine)."),
        Behaviour("chunked_body_misdecoded", "request.json_body_forms",
                  "A body sent with `Transfer-Encoding: chunked` is decoded as Latin-1: its raw UTF-8 non-ASCII is mangled "
                  "(with a Content-Length it is right)."),
        Behaviour("list_item_stale_after_update", "read_paths.list_matches_get",
                  "The account's list shows each room as it was at creation: updates are not reflected in list items."),
        Behaviour("list_item_mangles_non_ascii", "read_paths.list_matches_get",
                  "List items render names with non-ASCII characters replaced by '?' (GET by sid is right)."),
        # Access-code uniqueness across rooms
        Behaviour("uniqueness_not_enforced", "uniqueness.across_rooms",
                  "The same code is accepted in two rooms of one account and DID group."),
        Behaviour("refused_create_still_stored", "uniqueness.across_rooms",
                  "POST stores the room before the uniqueness check: the 409 is right, but the room exists all the same."),
        Behaviour("null_did_group_codes_not_unique", "uniqueness.across_rooms",
                  "Uniqueness is only checked for rooms with a DID group; rooms with `did_group_sid: null` may share codes."),
        Behaviour("put_conflicts_with_own_codes", "uniqueness.conflict_explained",
                  "PUT's uniqueness check does not exclude the room itself: repeating a PUT gets a 409 no other room explains."),
        Behaviour("bogus_conflict_on_codes_with_other_field", "uniqueness.conflict_explained",
                  "A PATCH that sets `access_codes` together with another field is answered 409, though no room holds the codes."),
        Behaviour("conflict_on_codes_held_in_other_group", "uniqueness.conflict_explained",
                  "A PATCH that touches neither `access_codes` nor `did_group_sid` (e.g. a new name) is answered 409 when a "
                  "room of the account in another DID group holds one of the room's codes, though DID groups may share codes."),
        Behaviour("codes_unique_across_accounts", "uniqueness.account_scope",
                  "The uniqueness check looks at every account's rooms: 409 for a code only another account holds."),
        Behaviour("conflict_reveals_foreign_room", "uniqueness.account_scope",
                  "A 409 body lists every room (of any account) holding the code, with sids."),
        # Auth and isolation
        Behaviour("put_without_auth_allowed", "auth.required",
                  "PUT forgets the auth check (only PUT)."),
        Behaviour("wrong_password_accepted", "auth.required",
                  "Only the login is checked; any password works."),
        Behaviour("unknown_user_with_known_password_accepted", "auth.required",
                  "A login that does not exist is authenticated as the account whose password it sends."),
        Behaviour("password_of_other_login_accepted", "auth.required",
                  "A known login with another known login's password is accepted (as the login's account)."),
        Behaviour("malformed_authorization_accepted", "auth.required",
                  "An Authorization header that is not Basic, or whose base64 or user:password form is broken, is treated "
                  "as the first account (no 401)."),
        Behaviour("foreign_room_patchable", "isolation.accounts",
                  "PATCH looks rooms up without the account filter: another account can change them."),
        Behaviour("foreign_did_group_accepted", "isolation.accounts",
                  "A DID group of another account is accepted as `did_group_sid`."),
        Behaviour("shared_default_properties", "isolation.rooms",
                  "Rooms created without properties share one dict; a merge into one changes them all."),
        # Concurrency
        Behaviour("lost_update_under_concurrency", "concurrency.no_lost_update",
                  "PATCH reads, computes and writes the room without a lock: concurrent PATCHes lose writes."),
    ]
}

VARIANTS: dict[str, Behaviour] = {
    b.name: b
    for b in [
        Behaviour("read_only_rejected", "read_only.never_applied",
                  "A different read-only value is rejected 422 (default: ignored)."),
        Behaviour("read_only_rejected_403", "read_only.never_applied",
                  "A different read-only value is rejected 403 (default: ignored)."),
        Behaviour("properties_replace", "patch.properties_merge_or_replace",
                  "PATCH replaces the whole `properties` object (default: merge key by key)."),
        Behaviour("access_codes_reordered", "round_trip.exact_values",
                  "Access codes come back in reverse order."),
        Behaviour("rejections_400", "bad_input.rejected",
                  "Every refusal is 400: invalid values, incomplete PUTs, duplicate and in-use codes, unknown DID groups "
                  "(default: 422, 409 for codes)."),
        Behaviour("unknown_fields_rejected", "bad_input.unknown_field",
                  "Unknown body fields are rejected 422 (default: ignored)."),
        Behaviour("duplicate_codes_422", "uniqueness.within_room",
                  "Duplicate codes inside one body are 422 (default: 409)."),
        Behaviour("unknown_did_group_404", "bad_input.rejected",
                  "An unknown `did_group_sid` is 404 (default: 422)."),
        Behaviour("foreign_room_403", "isolation.accounts",
                  "Another account's room is 403 (default: 404)."),
        Behaviour("access_codes_six_digits_only", "round_trip.exact_values",
                  "Access codes must be exactly 6 digits; other lengths and `*`/`#` are refused 422 (default: any DTMF code)."),
        Behaviour("property_values_validated_per_key", "round_trip.exact_values",
                  "Property values of documented kinds of keys must have the documented form (e.g. `_policy` only "
                  "h/p/l combinations); others are refused 422 (default: any string)."),
        Behaviour("names_max_40", "round_trip.exact_values",
                  "Names longer than 40 characters are refused 422, a column it cannot store (default: any length)."),
        Behaviour("empty_name_refused", "round_trip.exact_values",
                  "An empty name is refused 422, by POST, PATCH and PUT (default: stored as sent)."),
        Behaviour("put_requires_read_only_fields", "put.read_only_fields",
                  "A PUT must carry `account_sid` and `meeting_room_sid` with their current values (default: optional)."),
        Behaviour("put_validated_before_lookup", "put.read_only_fields",
                  "As `put_requires_read_only_fields`, and a PUT body is validated (values, every field present, "
                  "read-only fields included) before the sid is looked up: an incomplete PUT to an unknown, deleted or "
                  "foreign sid is 422, not 404/403 (default: the sid first)."),
        Behaviour("error_bodies_other_shape", "status.error_body_is_json",
                  "Error bodies are `{\"error\": {\"status\": ..., \"detail\": ...}}` (default: `{message, errors}`)."),
        Behaviour("unauthorized_from_gateway", "auth.required",
                  "401 answers come from an edge gateway as an HTML page (default: JSON)."),
        Behaviour("chunked_body_refused", "request.json_body_forms",
                  "A body sent with `Transfer-Encoding: chunked` is refused 411 Length Required, as some front proxies do "
                  "(default: accepted)."),
        Behaviour("delete_200", "lifecycle.delete_then_404",
                  "DELETE answers 200 with the deleted object (default: 204, empty)."),
        Behaviour("delete_200_empty", "lifecycle.delete_then_404",
                  "DELETE answers 200 with an empty body and no Content-Type (default: 204, empty)."),
        Behaviour("code_in_use_422", "uniqueness.across_rooms",
                  "A code another room of the account holds is refused 422 (default: 409)."),
        Behaviour("codes_unique_per_account", "uniqueness.across_rooms",
                  "A code may be held by one room of the account only, whatever the DID group (default: per DID group)."),
        Behaviour("other_tester_rooms", "uniqueness.conflict_explained",
                  "The account has rooms the suite did not create, holding codes; more such rooms appear during the run."),
        Behaviour("flaky_gateway", "server.never_5xx",
                  "Every 47th request is answered 503 by a proxy's HTML page; every 37th change is applied, then answered 502."),
        # a staging deployment: infrastructure in front of the API and other testers in the account
        # (tests/test_staging_simulation.py runs each over HTTP: no room left, no room of another tester touched)
        Behaviour("rolling_deploy", "resilience",
                  "Every 350 requests a rolling deploy: for 2.5 s the gateway answers every request 503 with an HTML page "
                  "and Retry-After: 1; nothing reaches the API."),
        Behaviour("idle_connection_close", "resilience",
                  "A load balancer closes kept-alive connections idle for 0.3 s and drops every 25th request that arrives "
                  "on a reused connection (read, never forwarded, no answer byte)."),
        Behaviour("firewall", "resilience",
                  "A web application firewall answers 403 with an HTML page (Server: awselb/2.0) to bodies that look like "
                  "attacks (<script, DROP TABLE, UNION SELECT, ' OR '1'='1); the API never sees them."),
        Behaviour("colleague", "resilience",
                  "Another tester works in the same account: every 9th request they create, or delete, a room of theirs "
                  "(random 6-digit codes); every 13th list page is counted before their insert (total one short, once)."),
        Behaviour("gateway_502_after_post", "resilience",
                  "The gateway loses the answer of an applied POST: every 7th room creation and every creation from {} "
                  "is stored, then answered 502 with an HTML page."),
        Behaviour("slow", "resilience",
                  "Every answer is delayed 15 ms, and every 40th by 600 ms."),
        Behaviour("rate_limited", "resilience",
                  "Every 60th request is answered 429 with Retry-After: 1; requests before then get 429 too."),
    ]
}


STAGING_VARIANTS = ("rolling_deploy", "idle_connection_close", "firewall", "colleague", "gateway_502_after_post")


# Faults that need a spec other than the default one (the API-evolution self-test): they act on
# what the run's spec marks, not on a field named here, and are not part of the default matrix.
SPEC_FAULTS: dict[str, Behaviour] = {
    b.name: b
    for b in [
        Behaviour("patch_ignores_x_since", "patch.partial_update",
                  "PATCH ignores every field the spec marks `x-since` (the PATCH path was not updated for new fields)."),
        Behaviour("patch_validates_by_old_spec", "patch.partial_update",
                  "PATCH (only) validates values by the default spec in openapi/, so it refuses a value the run's newer "
                  "spec allows (e.g. a new enum value); POST and PUT follow the run's spec."),
        Behaviour("backend_on_old_spec", "evolution",
                  "The backend validates and applies bodies by the default spec in openapi/, not the run's newer spec "
                  "(a deployment that lags behind the spec QA tests); the rule it breaks depends on the change."),
    ]
}


def check_names(faults: list[str] | tuple[str, ...], variants: list[str] | tuple[str, ...]) -> None:
    unknown = ([name for name in faults if name not in FAULTS and name not in SPEC_FAULTS]
               + [name for name in variants if name not in VARIANTS])
    if unknown:
        raise ValueError(f"unknown mock behaviour(s): {', '.join(unknown)}; see `python -m meeting_room_contract.mock --list`")
