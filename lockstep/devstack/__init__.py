"""The embedded development stack behind `lockstep dev`: Temporal dev server and the demo."""
