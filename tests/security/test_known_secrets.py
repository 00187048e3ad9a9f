"""Which values a process masks and which variables a worker is started without
(`lockstep.security.known_secrets`), from a server configuration and an environment."""

from __future__ import annotations

from lockstep.security.known_secrets import (
    api_environment,
    api_only_secrets_held,
    known_secret_values,
    masker_for,
    url_credentials,
    worker_environment,
)
from lockstep.settings import Settings

ENVIRON = {
    "SHOP_WEBHOOK_SECRET": "whsec-shop-0001",
    "BLOG_WEBHOOK_SECRET": "whsec-blog-0002",
    "ORDERS_DB_PASSWORD": "pg-orders-0003",
    "LOCKSTEP_TOKEN": "cli-token-0004",
    "PATH": "/usr/bin",
    "HOME": "/home/lockstep",
}


def _settings() -> Settings:
    return Settings(
        database_url="postgresql+psycopg://lockstep:db%2Fpass@db.internal/lockstep",
        repositories=[
            {
                "url": "https://ci-bot:repo%40pass@git.example.com/shop.git",
                "webhook_secret_env": "SHOP_WEBHOOK_SECRET",
            },
            {
                "url": "https://ghp_tokenOnly1234@github.com/acme/blog.git",
                "webhook_secret_env": "BLOG_WEBHOOK_SECRET",
            },
            {"url": "ssh://git@git.example.com/acme/ops.git"},
        ],
        secret_env=["ORDERS_DB_PASSWORD"],
    )


def test_every_named_secret_and_url_credential_is_known() -> None:
    assert known_secret_values(_settings(), ENVIRON) == sorted(
        [
            "whsec-shop-0001",
            "whsec-blog-0002",
            "pg-orders-0003",  # marked secret by secret_env
            "cli-token-0004",  # the CLI's token, wherever it shows up
            "repo%40pass",  # repository password, as written in the URL ...
            "repo@pass",  # ... and as git would print it decoded
            "ghp_tokenOnly1234",  # a token given as the user of an https URL
            "db%2Fpass",
            "db/pass",
        ]
    )


def test_a_user_name_alone_is_not_a_credential_outside_http() -> None:
    assert url_credentials("ssh://git@git.example.com/acme/ops.git") == []
    assert url_credentials("git@github.com:acme/ops.git") == []
    assert url_credentials("file:///srv/git/shop.git") == []
    assert url_credentials("https://git.example.com/shop.git") == []


def test_names_absent_from_the_environment_give_nothing_to_mask() -> None:
    settings = Settings(repositories=[{"url": "/srv/git/shop", "webhook_secret_env": "SHOP_WEBHOOK_SECRET"}])
    assert not masker_for(settings, {"PATH": "/usr/bin"})
    assert masker_for(settings, ENVIRON).mask("sig whsec-shop-0001") == "sig ***"


def test_the_worker_is_started_without_the_api_only_secrets() -> None:
    settings = _settings()
    worker = worker_environment(settings, ENVIRON)
    assert worker == {"ORDERS_DB_PASSWORD": "pg-orders-0003", "PATH": "/usr/bin", "HOME": "/home/lockstep"}
    assert api_only_secrets_held(settings, worker) == []
    assert api_only_secrets_held(settings, ENVIRON) == ["BLOG_WEBHOOK_SECRET", "SHOP_WEBHOOK_SECRET"]
    api = api_environment(ENVIRON)
    assert "SHOP_WEBHOOK_SECRET" in api and "LOCKSTEP_TOKEN" not in api
