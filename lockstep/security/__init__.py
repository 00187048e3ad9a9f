"""What keeps secrets secret and proofs unforgeable: which values are secret for a process, files
only their owner may read, and the API's signature on the approvals it authenticated.

The threat model these serve is docs/security.md. Masking itself is pure and lives in
`lockstep.domain.masking`; who may approve is `lockstep.domain.approvals`.
"""
