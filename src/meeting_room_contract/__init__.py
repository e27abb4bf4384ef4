"""Contract-testing suite for the CarrierX Conference v2 meeting-room update API."""
