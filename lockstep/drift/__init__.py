"""The drift sweep: live state compared with what Lockstep last deployed (docs/drift.md).

Modules: `items` (change sets and live host state turned into drift items), `sweep` (one
environment's sweep: render, observe, diff, decide, record; and what was last recorded).
Above the deliverers (it observes and diffs through them) and below orchestration, the
activities, the CLI and the API, which call it.
"""
