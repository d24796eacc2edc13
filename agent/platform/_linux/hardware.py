"""Linux hardware facts."""
