"""Linux software facts."""
