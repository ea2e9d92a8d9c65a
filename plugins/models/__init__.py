"""First-party model families."""
