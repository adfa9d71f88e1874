"""Persistence adapters: the event store recorder, engine and URL, event reader, runner lock, document store and user store."""
