"""Delivery: putting one rendered component onto its target and taking it back.

Owns the order of operations per host (write-ahead record, stage, switch, deploy, health) and
batching across hosts. It does not know Temporal or the database: progress, cancellation and the
journal of what was live before are passed in.
"""
