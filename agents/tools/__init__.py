"""Built-in tools and the configurable HTTP tool."""
