"""The `lockstep` command line (docs/cli.md): thin over the API, the Temporal client and the store."""
