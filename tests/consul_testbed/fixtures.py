"""Fixtures for the real-Consul test bed (filled in by the zone work)."""
