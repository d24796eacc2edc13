"""Read models of the compliance reports: grouped queries over a unit scope and a period."""
