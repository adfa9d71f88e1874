"""The benchmark and the seeded province generator it shares with `zhaoshang demo`."""
