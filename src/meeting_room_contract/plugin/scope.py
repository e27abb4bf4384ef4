"""Whether a pytest run is a contract run: the one question every plugin module asks before it acts."""

from __future__ import annotations

from pathlib import Path

import pytest


def is_contract_run(config: pytest.Config) -> bool:
    """The run collects the contract suite (a `contracts` directory among its paths, also by `testpaths`),
    or was asked to act as one (`--contract-run`). Only then does the plugin act (`activation`)."""
    if getattr(getattr(config, "option", None), "contract_run", False):
        return True
    args = config.args or []
    return any("contracts" in Path(str(arg).split("::")[0]).parts for arg in args)
