"""Run configuration: one pydantic model, loadable from TOML, overridable from the CLI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from augment_ft.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["DEFAULT_STRATEGIES", "BackendName", "RunConfig", "load_config"]

BackendName = Literal["local", "openai", "scripted"]
DEFAULT_STRATEGIES = ("split", "rephrase", "reverse", "implications", "symbolic")


class RunConfig(BaseModel):
    """Everything one run needs. Unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: list[str] = Field(default_factory=list)
    output: str | None = None
    format: str = "openai-chat"
    system_prompt: str | None = None
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    strategy_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    keep_originals: bool = True
    backend: BackendName = "local"
    model: str | None = None
    base_url: str | None = None
    n_ctx: int = Field(default=4096, ge=256)
    timeout: float = Field(default=120.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=1024)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    retry_base_delay: float = Field(default=1.0, ge=0.0)
    """Seconds: the ceiling of the first retry's jittered wait, doubling per retry."""
    cache: str | None = None
    no_cache: bool = False
    refresh_cache: bool = False
    resume: bool = False
    force: bool = False
    report: str | None = None
    seed: int = 0
    val_fraction: float = Field(default=0.0, ge=0.0, lt=1.0)
    shard: str | None = None
    dedup_exact: bool = True
    dedup_near: bool = True
    near_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    near_window: int = Field(default=250_000, ge=0)
    """Near-duplicates are looked for among the last ``near_window`` to twice that many
    kept examples, which bounds memory; 0 remembers all of them."""
    against: list[str] = Field(default_factory=list)
    ngram: int = Field(default=13, ge=1)
    text_field: str = "text"
    id_field: str = "id"
    on_error: Literal["raise", "skip"] = "raise"
    template_dir: str | None = None
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    max_example_tokens: int = Field(default=65536, ge=1)

    @field_validator("shard")
    @classmethod
    def _check_shard(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.split("/")
        ok = len(parts) == 2 and all(p.isdigit() for p in parts)
        if not ok or not 0 <= int(parts[0]) < int(parts[1]):
            msg = f"shard must look like I/N with 0 <= I < N (e.g. 0/4), got {value!r}"
            raise ValueError(msg)
        return value

    def shard_pair(self) -> tuple[int, int] | None:
        """``(index, count)`` of this shard, or None when not sharded."""
        if self.shard is None:
            return None
        i, n = self.shard.split("/")
        return int(i), int(n)

    def cache_path(self) -> Path | None:
        """Where the response cache lives: explicit, beside the output, or nowhere."""
        if self.no_cache:
            return None
        if self.cache:
            return Path(self.cache)
        if self.output:
            out = Path(self.output)
            return out.with_name(out.stem + ".cache.sqlite")
        return None

    def with_overrides(self, overrides: dict[str, Any]) -> RunConfig:
        """A copy with the given fields replaced (None values are ignored)."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return build_config(data, origin="command line")


def _describe(exc: ValidationError, origin: str) -> str:
    """One line for one problem (the usual case); a line per problem when there are several."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            problems.append(f"{field}: unknown key (see 'augment-ft run --help' for the keys)")
        else:
            problems.append(f"{field}: {err['msg']}")
    if len(problems) == 1:
        return f"invalid configuration in {origin}: {problems[0]}"
    return "\n  ".join([f"invalid configuration in {origin}:", *problems])


def build_config(data: dict[str, Any], *, origin: str) -> RunConfig:
    """Validate a mapping into a RunConfig; errors name the field and where it came from."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML config file. Keys are RunConfig fields; ``[strategy_options.NAME]`` tables."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        msg = f"cannot read config file {p}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"{p}: not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    return build_config(data, origin=str(p))
