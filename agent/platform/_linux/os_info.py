"""Linux os info facts."""
