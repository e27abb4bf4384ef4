"""Pure judges, one registered function per rule: (what was sent, the state before, the answer,
the state after) -> typed failures. No I/O: the actions layer gathers the evidence."""

from .base import JUDGES, Answer, ContractViolation, Failure, Verdict, judge
from .context import Context

__all__ = ["JUDGES", "Answer", "Context", "ContractViolation", "Failure", "Verdict", "judge"]
