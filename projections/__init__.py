"""Read models derived from the event log, the policy engine and the database wiring."""
