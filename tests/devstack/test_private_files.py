"""What `lockstep dev` writes is for its owner alone: the config (token hashes, secret variable
names), the demo tokens and the webhook secret 0600, their folders 0700, also when an older
version left them readable by others."""

from __future__ import annotations

import stat
from pathlib import Path

from lockstep.devstack.demo import demo_token, demo_webhook_secret, write_dev_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_writes_everything_owner_only(tmp_path: Path) -> None:
    state = tmp_path / ".lockstep"
    config = write_dev_config(state, temporal_port=7233, api_listen="127.0.0.1:8000")
    secret = demo_webhook_secret(state)

    assert _mode(state) == 0o700
    assert _mode(state / "tokens") == 0o700
    assert _mode(config) == 0o600
    for user in ("alice", "bob", "demo"):
        assert _mode(state / "tokens" / user) == 0o600, user
    assert _mode(state / "demo-webhook-secret") == 0o600
    assert len(secret) >= 32


def test_a_later_start_tightens_what_an_older_version_left_readable(tmp_path: Path) -> None:
    state = tmp_path / ".lockstep"
    config = write_dev_config(state, temporal_port=7233, api_listen="127.0.0.1:8000")
    secret = demo_webhook_secret(state)
    token = demo_token(state, "alice")
    loose = [config, state / "demo-webhook-secret", *(state / "tokens").iterdir()]
    for path in loose:
        path.chmod(0o644)
    for folder in (state, state / "tokens"):
        folder.chmod(0o755)

    assert write_dev_config(state, temporal_port=7233, api_listen="127.0.0.1:8000") == config
    assert demo_webhook_secret(state) == secret, "kept, not replaced"
    assert demo_token(state, "alice") == token

    assert [(p.name, _mode(p)) for p in loose] == [(p.name, 0o600) for p in loose]
    assert (_mode(state), _mode(state / "tokens")) == (0o700, 0o700)
