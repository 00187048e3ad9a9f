"""The HTTP API (SPEC §8), a FastAPI app built by `create_app`."""
