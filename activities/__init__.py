"""Temporal activities: classes whose constructor receives the adapters; methods are activities."""
