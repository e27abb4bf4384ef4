"""Delete the rooms of dead contract runs, by the sids their journals recorded.

    python -m meeting_room_contract.cleanup --base-url URL --username U [--password P] [--state-dir D]

The password comes from --password or CONFERENCE_PASSWORD (prefer the variable: shell history).
Only rooms journalled as created (and not deleted) by runs that are no longer alive, for this
login at this base URL, are deleted, whatever their names are now and however old they are;
nothing else is touched. SIGINT/SIGTERM wait until the deletions are done.

Exit status: 0 every journalled room is deleted or was already gone; 1 some could not be deleted
(they stay journalled for the next cleanup); 3 the target could not be reached; 4 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys

from .client import ConferenceClient
from .registry import RoomRegistry, new_run_id
from .preflight import PreflightError, no_credentials_in
from .transport import Politeness, RateLimiter, RequestCounter, TargetUnavailable
from .journal import DEFAULT_STATE_DIR, STATE_DIR_ENV, cleanup_journalled
from .redaction import Credentials, Redactor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meeting_room_contract.cleanup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("CONFERENCE_BASE_URL") or None,
                        help="API base URL incl. prefix (env CONFERENCE_BASE_URL)")
    parser.add_argument("--username", default=os.environ.get("CONFERENCE_USERNAME") or None,
                        help="login (env CONFERENCE_USERNAME)")
    parser.add_argument("--password", default=None, help="password (env CONFERENCE_PASSWORD; preferred)")
    parser.add_argument("--state-dir", default=os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR,
                        help=f"the suite's state directory (env {STATE_DIR_ENV}; default {DEFAULT_STATE_DIR})")
    parser.add_argument("--request-timeout", type=float, default=15.0, help="seconds per request (default 15)")
    args = parser.parse_args(argv)
    password = args.password or os.environ.get("CONFERENCE_PASSWORD")
    if not (args.base_url and args.username and password):
        parser.error("--base-url, --username and a password (--password or CONFERENCE_PASSWORD) are required")
    try:
        no_credentials_in(args.base_url)
    except PreflightError as error:
        parser.error(str(error))
    credentials = Credentials(args.username, password)
    redactor = Redactor([credentials])
    client = ConferenceClient(args.base_url, credentials, RoomRegistry(new_run_id(), "cleanup"),
                              Politeness(timeout=args.request_timeout), RateLimiter(0), RequestCounter(), redactor=redactor)
    try:
        result = cleanup_journalled(args.state_dir, client, log=lambda line: print(redactor.scrub(line)))
    except TargetUnavailable as error:
        print(f"cleanup: could not reach the target: {redactor.scrub(error.reason)}", file=sys.stderr)
        return 3
    if result.interrupted_by:
        print(f"cleanup: {', '.join(result.interrupted_by)} arrived during the cleanup; it was finished first")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
