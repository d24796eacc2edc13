"""Windows hardware facts."""
