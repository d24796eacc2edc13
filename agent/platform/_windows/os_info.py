"""Windows os info facts."""
