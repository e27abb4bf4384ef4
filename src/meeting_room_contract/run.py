"""One contract run: everything the run knows and decides, created once per session and passed along."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .judges import Context, Verdict
from .model import Model, PropertiesMode
from .observations import Recorder
from .spec import Spec
from .target import Target


@dataclass
class CodeBook:
    """Access codes (`x-unique` values) held by the account's rooms: generated codes avoid them.

    `avoided` is a snapshot taken before each test, so a code learnt in the middle of a test does
    not change how hypothesis replays an example."""

    in_use: set[Any] = field(default_factory=set)
    avoided: frozenset[Any] = frozenset()
    # xdist workers sharing one target: (this worker's index, workers). Each worker's codes are
    # the digit strings whose value modulo `workers` is its index, so no two workers ever draw the
    # same code: a worker knows only the codes it holds itself, and a code of another worker's
    # room would refuse a room this worker creates with a code it drew as free.
    partition: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def in_share(self, value: Any) -> bool:
        """Whether a drawn code is this worker's to use (every code when there is no partition)."""
        if self.partition is None or not (isinstance(value, str) and value.isascii() and value.isdigit()):
            return True
        index, workers = self.partition
        return int(value) % workers == index

    def to_share(self, value: Any) -> Any:
        """A drawn code moved into this worker's share (for hypothesis draws): only its last digits
        change (as few as the worker count needs), to the nearest value that is the worker's, so
        its form stays (length, leading zeros)."""
        if self.partition is None or not (isinstance(value, str) and value.isascii() and value.isdigit()):
            return value
        index, workers = self.partition
        number = int(value)
        for tail in range(1, len(value) + 1):
            size = 10 ** tail
            if size < workers:
                continue
            base, last = number - number % size, number % size
            wanted = (index - base) % workers  # the tail's residue that makes the whole value the worker's
            below = last - (last - wanted) % workers
            options = [m for m in (below, below + workers) if 0 <= m < size]
            return f"{base + min(options, key=lambda m: abs(m - last)):0{len(value)}d}"
        return value

    def fresh_like(self, template: str) -> str:
        """A code of the form of `template`, in no room the run knows of and never handed out before: its
        length, its non-digits (`*`, `#`) and its leading zeros where they are (of all zeros, the last digit
        is drawn), the other digits drawn anew from the OS random source (within the worker's share).
        ValueError when no such code is free."""
        digits = [i for i, char in enumerate(template) if char.isdigit()]
        zeros = next((n for n, i in enumerate(digits) if template[i] != "0" or i != n), len(digits))
        free = digits[zeros:] or digits[-1:]  # all zeros: the last digit is drawn (still leading zeros, the length)
        for _ in range(10_000):
            chars = list(template)
            for position, index in enumerate(free):
                chars[index] = secrets.choice(string.digits[1:] if position == 0 else string.digits)
            code = "".join(chars)
            if code not in self and self.in_share("".join(char for char in code if char.isdigit())):
                self.add([code])
                return code
        raise ValueError(f"no fresh access code of the form {template!r} left")

    def add(self, codes: Any) -> None:
        with self._lock:
            self.in_use.update(codes)

    def snapshot(self) -> None:
        with self._lock:
            self.avoided = frozenset(self.in_use)

    def __contains__(self, code: Any) -> bool:
        with self._lock:
            return code in self.in_use


@dataclass
class PutStyle:
    """Whether the target's PUT needs the current read-only values (contract A; probed once per run)."""

    read_only_required: bool = False


class Run:
    """The run's target, spec and model, pins, recorder and what it learnt of the target.

    Made once per pytest session (and once per xdist worker) by the plugin; fixtures, actions and
    reports receive it. Nothing of a run lives in module globals, so two runs in one process do
    not meet.
    """

    def __init__(self, target: Target, spec: Spec, pins: Mapping[str, str] | None = None,
                 recorder: Recorder | None = None):
        self.target = target
        self.spec = spec
        self.model = Model(spec)
        self.pins: dict[str, str] = dict(pins or {})
        self.recorder = recorder or Recorder(spec)
        self.codes = CodeBook()
        self.put_style = PutStyle()
        self.did_groups: frozenset[str] | None = None  # the account's DID groups, once read
        self.properties_settled: PropertiesMode | None = None
        self.properties_evidence: str | None = None
        self.own_read_only: dict[str, dict[str, Any]] = {}  # by login: the read-only values of its rooms (its account)
        self.strategies: dict[tuple[Any, ...], Any] = {}  # hypothesis strategies built for this run (strategies.built)
        self.list_filter: bool | None = None  # whether the target honours the list `filter` (learnt once, actions.listed_room)
        self.full_listings: dict[str | None, int] = {}  # by test: list read-backs that paged through the whole account
        self.list_readbacks: int | None = None  # accepted updates per test whose list item is read back (None: all)
        self.list_readbacks_done: dict[str | None, int] = {}  # by test
        self.refusal_listing: tuple[Any, Any, list[dict[str, Any]]] | None = None  # the account as listed for the last refusal
        self.before_cleanup: list[Callable[[], None]] = []  # background work stopped before the run deletes its rooms
        self._lock = threading.Lock()
        target.registry.creation_matches = self.created_from  # what proves a room a POST without a run name created
        target.registry.creation_resembles = self.holds_a_sent_code

    def holds_a_sent_code(self, sent: Any, room: Mapping[str, Any]) -> bool:
        """Whether `room` holds a unique value (an access code) that `sent` carries."""
        return isinstance(sent, Mapping) and bool(self.model.unique_values(sent) & self.model.unique_values(room))

    def created_from(self, sent: Any, room: Mapping[str, Any]) -> bool:
        """Whether `room` is the room the model says a POST of `sent` creates (sent fields as sent, the
        others at their defaults; the system's fields aside)."""
        if not isinstance(sent, Mapping) or set(sent) - set(self.model.DOCUMENTED_FIELDS):
            return False
        expected = self.model.new_room(sent, {field: room.get(field) for field in self.model.READ_ONLY_FIELDS})
        return not self.model.differences(expected, room)

    def full_listing_allowed(self, per_test: int = 3) -> bool:
        """Whether the current test may read the whole account once more for a list read-back (bounded per test)."""
        return self._one_more(self.full_listings, per_test)

    def _one_more(self, done_by_test: dict[str | None, int], per_test: int) -> bool:
        """Count one more of something the current test may do `per_test` times; False once it is used up."""
        test = self.recorder.current_test
        with self._lock:
            done = done_by_test.get(test, 0)
            if done >= per_test:
                return False
            done_by_test[test] = done + 1
            return True

    def list_readback_wanted(self) -> bool:
        """Whether the current test reads the list item of one more accepted update (`list_readbacks`: the
        same rule on the same read path, proven again and again within one test, costs a request each).
        A test that failed reads every one from then on: hypothesis shrinks the failing example and
        replays it, and each replay must meet the read paths that failed it (else it would call the
        failure flaky, as if the target had answered differently)."""
        if self.list_readbacks is None:
            return True
        if self.recorder.failed_in(self.recorder.current_test):
            return True
        return self._one_more(self.list_readbacks_done, self.list_readbacks)

    def context(self) -> Context:
        """What judges may know of the run, as a snapshot."""
        return Context(model=self.model, pins=dict(self.pins), properties_settled=self.properties_settled,
                       properties_evidence=self.properties_evidence, known_did_groups=self.did_groups,
                       codes_across_did_groups=self.codes_across_did_groups())

    def codes_across_did_groups(self) -> str | None:
        """"refused" or "shared" as pinned, else as observed this run ("shared" wins); None while unknown."""
        pinned = self.pins.get("codes_across_did_groups")
        if pinned:
            return pinned
        seen = self.recorder.behaviours.get("codes_across_did_groups") or {}
        return "shared" if "shared" in seen else "refused" if "refused" in seen else None

    def settle_properties(self, mode: PropertiesMode, evidence: str) -> None:
        with self._lock:
            if self.properties_settled is None:
                self.properties_settled, self.properties_evidence = mode, evidence

    def record(self, verdict: Verdict, violation_for: Any = None) -> None:
        """Count a verdict's checks and behaviours; `violation_for(failure)` makes the text a failure is reported with."""
        failures = iter(verdict.failures)
        for rule_id, operation, passed in verdict.checked:
            failure = None if passed else next(failures, None)
            self.recorder.checked(rule_id, operation, passed,
                                  violation_for(failure) if failure is not None and violation_for else failure)
        for behaviour, alternative, _operation in verdict.observed:
            self.recorder.behaviour(behaviour, alternative)
        for rule_id, operation, reason in verdict.not_checked:
            self.recorder.unchecked(rule_id, operation, reason)
