"""The service layer around the domain: settings, the composition root, and the commands that span the event store and the document store."""
