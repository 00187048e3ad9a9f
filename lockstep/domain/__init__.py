"""Domain model: pure pydantic models, statuses and errors. Imports nothing of the project."""
