"""Windows peripherals facts."""
