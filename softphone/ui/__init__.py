"""The agent window's widgets, one per file; each renders `AgentModel` and emits what the agent
asks for. None of them talks to the network or the SIP stack: `softphone.app` wires them."""
