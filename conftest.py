"""This repository's own pytest settings. The contract suite's options, fixtures and hooks live in
the plugin package `meeting_room_contract.plugin` (installed with the project, entry point
`pytest11`), so once the package is installed the suite runs from any directory (`pytest PATH/TO/contracts`)."""
