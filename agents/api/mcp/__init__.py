"""The agents a department API key may call, served as an MCP server (streamable HTTP at /mcp)."""
