"""Entry points: the HTTP API, its schemas and error mapping, exports, and the command line."""
