"""govguard controller: receives, stores and evaluates agent reports."""
