"""Fixtures that start the WAPI simulator (filled in by the simulator work)."""
