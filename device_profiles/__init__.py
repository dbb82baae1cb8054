"""Board profiles: one TOML file per board, every number with its source and tag."""
