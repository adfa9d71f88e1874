"""The seeded demo province, recorded through the application (used by `zhaoshang demo` and the benchmark)."""
