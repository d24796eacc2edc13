"""Linux peripherals facts."""
