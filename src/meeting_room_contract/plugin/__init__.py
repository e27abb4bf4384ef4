"""The pytest plugin of the contract suite (entry point `pytest11`): options and profiles, the
run's lifecycle and cleanup, xdist, fixtures, and the contract-first reporting."""

pytest_plugins = [
    "meeting_room_contract.plugin.options",
    "meeting_room_contract.plugin.status",
    "meeting_room_contract.plugin.session",
    "meeting_room_contract.plugin.xdist",
    "meeting_room_contract.plugin.fixtures",
    "meeting_room_contract.plugin.reporting",
]
