"""The pytest plugin of the contract suite (entry point `pytest11`): options and profiles, the
run's lifecycle and cleanup, xdist, fixtures, and the contract-first reporting.

Passive outside contract runs (`activation`): every run of the environment knows the options, but
the hooks are registered only when the run collects `contracts/` (or is given `--contract-run`)."""

pytest_plugins = [
    "meeting_room_contract.plugin.options",
    "meeting_room_contract.plugin.activation",
]
