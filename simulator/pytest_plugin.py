"""pytest fixtures for simulated My Number cards (filled in by the simulator)."""
