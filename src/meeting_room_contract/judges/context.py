"""What judges may know besides the exchange: the contract model and what the run has settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..model import Model, PropertiesMode


@dataclass(frozen=True)
class Context:
    """A snapshot handed to judges: the model of the run's spec, the pins, and the run's knowledge."""

    model: Model
    pins: Mapping[str, str] = field(default_factory=dict)
    properties_settled: PropertiesMode | None = None
    properties_evidence: str | None = None
    known_did_groups: frozenset[str] | None = None  # None: the account's DID groups were not read
    codes_across_did_groups: str | None = None  # "shared", "refused" (pinned or observed) or None

    @property
    def properties_pinned(self) -> PropertiesMode | None:
        pin = self.pins.get("properties_on_patch")
        return PropertiesMode(pin) if pin else None

    def properties_allowed(self) -> list[PropertiesMode]:
        if self.properties_pinned:
            return [self.properties_pinned]
        return [self.properties_settled] if self.properties_settled else list(PropertiesMode)
