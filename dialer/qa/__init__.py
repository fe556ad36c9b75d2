"""QA tools: test calls, QA calls to the test extensions, SIP phones for tests, the simulated
carrier's numbering plan."""
