"""The scenario catalog: ready-made agent definitions for government work, as TOML files."""
