"""The `lockstep` command line (SPEC §7): thin over the API, the Temporal client and the store."""
