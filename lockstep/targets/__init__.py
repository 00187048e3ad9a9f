"""Target adapters: how Lockstep reaches the places it deploys to.

`host` holds the `HostConnection` contract shared by host-like targets, `releases` the release
logic written once on top of it, `local` the local-folder target; `registry` maps server-config
targets to adapters. Nothing here knows about Temporal, the store or git.
"""
