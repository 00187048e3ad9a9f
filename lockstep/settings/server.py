"""The root of the server configuration: `Settings`, one validated object grouped by concern.

Owns the `Settings` model (its sections, the environment variables that override them with
`LOCKSTEP_` and `__` for nesting, and their precedence over the file's values). Deliberately not
here: the sections themselves (`lockstep.settings.sections`, `lockstep.settings.targets`) and
finding, reading and resolving the configuration file (`lockstep.settings.loading`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lockstep.domain import bounds
from lockstep.settings.sections import (
    ApiSettings,
    DeploymentSettings,
    DriftSettings,
    PolicySettings,
    RepositorySettings,
    TemporalSettings,
    UserSettings,
)
from lockstep.settings.targets import TargetSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOCKSTEP_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    database_url: str = Field(
        "sqlite:///.lockstep/lockstep.db",
        description="The system of record: a SQLite URL, or postgresql+psycopg://user@host/db.",
    )
    state_dir: str = Field(".lockstep", description="Git mirrors and working files of this server.")
    api: ApiSettings = Field(default_factory=ApiSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    repositories: list[RepositorySettings] = Field(
        default_factory=list,
        max_length=bounds.MAX_REPOSITORIES,
        description="The repositories deployed from.",
    )
    targets: dict[str, TargetSettings] = Field(
        default_factory=dict,
        max_length=bounds.MAX_TARGETS,
        description="Where components land, by name (what environments bind their logical targets to).",
    )
    users: dict[str, UserSettings] = Field(
        default_factory=dict, max_length=bounds.MAX_USERS, description="Who may use the API, by name."
    )
    # Every `*_env` reference above (a repository's `webhook_secret_env`, ...) counts without
    # being listed here.
    secret_env: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Environment variables whose values are secret: masked in stored and shown command "
        "output (every `*_env` reference counts without being listed).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats init values, which carry the YAML file's content (see `load_settings`).
        return env_settings, init_settings

    @property
    def mirrors_dir(self) -> Path:
        return Path(self.state_dir) / "mirrors"
