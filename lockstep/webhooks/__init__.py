"""Git events in, as pure functions: webhook signatures, provider payloads, repository matching,
rate limits and which environments a branch push deploys. No HTTP framework here: `lockstep.api.webhooks`
puts these behind FastAPI."""
