"""Windows software facts."""
