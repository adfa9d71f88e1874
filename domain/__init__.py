"""The framework-free core: aggregates, events, invariants, errors and the application."""
