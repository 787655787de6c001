"""MCP servers' tools used by agents: the client that lists and calls them, and the sync into ``Tool`` rows."""
