"""First-party data sets."""
