"""Linux security facts."""
