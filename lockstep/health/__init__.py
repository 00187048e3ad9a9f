"""Health checks, in one place: `kubernetes` judges live objects (pure), `commands` runs a host
component's health commands, `http` GETs its URLs from the worker. The deliverers of each kind
call them after applying, and drift checks read the same judgement.
"""
