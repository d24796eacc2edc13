"""Linux network facts."""
