"""Windows security facts."""
