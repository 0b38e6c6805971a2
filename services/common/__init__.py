"""What every service shares: settings base, broker factory, scenario, signing, metrics wiring."""
