"""Chaos soak: the sync under faults of every kind at once, with invariants checked from outside.

``bash bench/chaos.sh [--profile short|long] [--seed N]`` or ``.venv/bin/python -m bench.chaos``; see
bench/README.md ("Chaos soak"). Modules: ``config`` (settings, profiles, the derived bounds), ``bed``
(Consul cluster, services, simulator, BIND, writers), ``tap`` (who sent which WAPI call), ``schedule``
(the seeded faults), ``faults`` (injecting them), ``observe`` and ``invariants`` (what is checked),
``figures``, ``run``.
"""
