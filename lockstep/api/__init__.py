"""The HTTP API (docs/api.md), a FastAPI app built by `create_app`."""
