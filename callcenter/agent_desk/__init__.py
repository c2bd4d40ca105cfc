"""The agent desk, one room: the agent page, its websocket, its JSON actions, the live desk
driven by bus events and the agents' task list (callbacks)."""
