"""Temporal workflows: orchestration only. No I/O, clocks or randomness outside activities."""
