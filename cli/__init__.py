"""The `zhaoshang` command line: one module per group of sub-commands, each a thin call into the services."""
