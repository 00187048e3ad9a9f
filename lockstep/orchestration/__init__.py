"""Talking to Temporal from outside workflows: connecting, starting deployments, reading views.

Shared by the CLI and the API so both start deployments the same way.
"""
