"""Run configuration: one pydantic model, loadable from TOML, overridable from the CLI."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from augment_ft.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["DEFAULT_STRATEGIES", "Cli", "RunConfig", "build_config", "load_config"]

DEFAULT_STRATEGIES = ("split", "rephrase", "reverse", "implications", "symbolic")


@dataclass(frozen=True)
class Cli:
    """How a :class:`RunConfig` field appears on the command line; its help is the field's
    description. ``flag`` overrides the spelling (``--rpm``, ``--no-originals``); ``hidden``
    keeps a field to TOML and Python (tables such as ``prices``)."""

    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    positional: bool = False
    csv: bool = False
    hidden: bool = False
    exclusive: str | None = None
    """Fields sharing this name are mutually exclusive on the command line."""


class RunConfig(BaseModel):
    """Everything one run needs. Unknown keys are errors, so a typo never passes silently.

    Each field is a TOML key, a keyword of ``augment()`` and (unless hidden) a flag of
    ``augment-ft run``, whose help is generated from the descriptions below.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: Annotated[list[str], Cli(positional=True, metavar="INPUT")] = Field(
        default_factory=list, description="files, directories or globs (.txt .md .jsonl .json)"
    )
    output: Annotated[str | None, Cli(short="-o", metavar="OUT.jsonl")] = Field(
        default=None, description="output JSONL"
    )
    format: str = Field(default="openai-chat", description="output format")
    system_prompt: Annotated[str | None, Cli(metavar="TEXT")] = Field(
        default=None, description="system message for chat formats"
    )
    max_example_tokens: Annotated[int, Cli(metavar="N")] = Field(
        default=65536, ge=1, description="drop records longer than N tokens (OpenAI's limit)"
    )
    strategies: Annotated[list[str], Cli(csv=True, metavar="A,B,...")] = Field(
        default_factory=lambda: list(DEFAULT_STRATEGIES),
        description="comma-separated strategies to run",
    )
    strategy_options: Annotated[dict[str, dict[str, Any]], Cli(hidden=True)] = Field(
        default_factory=dict, description="options per strategy ([strategy_options.NAME])"
    )
    keep_originals: Annotated[bool, Cli(flag="--no-originals")] = Field(
        default=True, description="do not keep the original documents beside the augmentations"
    )
    backend: Annotated[str, Cli(metavar="NAME")] = Field(
        default="local",
        description="local = an embedded model via llama.cpp; openai = any OpenAI-compatible "
        "server; scripted = stub answers, no model; or a backend a plugin registers "
        "(entry points augment_ft.backends)",
    )
    model: str | None = Field(
        default=None,
        description="model name (openai); for local: qwen2.5-coder-1.5b (default, the "
        "capable writer), smollm2 (fast, weak) or a GGUF path",
    )
    model_dir: Annotated[str | None, Cli(metavar="DIR")] = Field(
        default=None,
        description="where a local model that ships in parts is assembled (default: "
        "$AUGMENT_FT_MODEL_DIR or ~/.cache/augment_ft/models)",
    )
    base_url: Annotated[str | None, Cli(metavar="URL")] = Field(
        default=None, description="OpenAI-compatible base URL (or OPENAI_BASE_URL)"
    )
    n_ctx: Annotated[int, Cli(metavar="TOKENS")] = Field(
        default=4096, ge=256, description="context window of the local model"
    )
    threads: Annotated[int | None, Cli(metavar="N")] = Field(
        default=None,
        ge=1,
        description="CPU threads of the local backend's llama.cpp (default: llama.cpp's own); "
        "2 is faster on an idle 2-core machine, slower when the other core is busy",
    )
    http: Literal["lean", "sdk"] = Field(
        default="lean",
        description="the openai backend's HTTP client: lean = aiohttp with hand-built JSON "
        "(least CPU per call); sdk = the openai SDK",
    )
    timeout: Annotated[float, Cli(metavar="SECONDS")] = Field(
        default=120.0, gt=0, description="seconds per model call"
    )
    concurrency: Annotated[int, Cli(metavar="N")] = Field(
        default=8,
        ge=1,
        le=1024,
        description="max model calls in flight (the ceiling of the adaptive limit)",
    )
    adaptive: Annotated[bool, Cli(flag="--no-adaptive")] = Field(
        default=True,
        description="keep the in-flight limit fixed at --concurrency (by default it shrinks "
        "on 429s and timeouts and grows back while calls succeed)",
    )
    requests_per_minute: Annotated[float | None, Cli(flag="--rpm", metavar="N")] = Field(
        default=None, gt=0, description="requests-per-minute budget"
    )
    tokens_per_minute: Annotated[float | None, Cli(flag="--tpm", metavar="N")] = Field(
        default=None, gt=0, description="tokens-per-minute budget"
    )
    max_attempts: Annotated[int, Cli(metavar="N")] = Field(
        default=6, ge=1, description="attempts per call (retries + 1)"
    )
    retry_base_delay: Annotated[float, Cli(metavar="SECONDS")] = Field(
        default=1.0,
        ge=0.0,
        description="ceiling of the first retry's jittered wait, doubling per retry",
    )
    cache: Annotated[str | None, Cli(metavar="PATH", exclusive="cache")] = Field(
        default=None, description="response cache (SQLite); default: OUT.cache.sqlite beside OUT"
    )
    no_cache: Annotated[bool, Cli(exclusive="cache")] = Field(
        default=False, description="do not cache responses"
    )
    refresh_cache: bool = Field(
        default=False, description="ignore cached responses (and overwrite them)"
    )
    resume: bool = Field(
        default=False, description="continue a killed run: keep what OUT holds, add the rest"
    )
    force: bool = Field(default=False, description="overwrite an existing OUT")
    report: Annotated[str | None, Cli(metavar="REPORT.json")] = Field(
        default=None, description="write the run report here"
    )
    seed: Annotated[int, Cli(metavar="N")] = Field(
        default=0, description="seed for sampling and the split"
    )
    val_fraction: Annotated[float, Cli(metavar="F")] = Field(
        default=0.0, ge=0.0, lt=1.0, description="share of source documents written to OUT.val"
    )
    shard: Annotated[str | None, Cli(metavar="I/N")] = Field(
        default=None, description="process shard I of N (0-based)"
    )
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="local = one asyncio process; ray = Ray Data actors over resumable "
        "shards, with cluster-wide dedup (extra 'ray'; see docs/scaling.md)",
    )
    ray_address: Annotated[str | None, Cli(metavar="ADDR")] = Field(
        default=None,
        description="the Ray cluster to run on (--engine ray); default: start a local instance",
    )
    workers: Annotated[int, Cli(metavar="N")] = Field(
        default=2,
        ge=1,
        description="Ray actors, each running --concurrency calls; --rpm and --tpm are "
        "shared out among them (--engine ray)",
    )
    shards: Annotated[int, Cli(metavar="N")] = Field(
        default=64,
        ge=1,
        le=1_000_000,
        description="work units of a Ray job, each resumed whole; fixed for the job (--engine ray)",
    )
    dedup_exact: Annotated[bool, Cli(flag="--no-exact-dedup")] = Field(
        default=True, description="keep exact duplicates (no exact deduplication)"
    )
    dedup_near: Annotated[bool, Cli(flag="--no-near-dedup")] = Field(
        default=True, description="exact deduplication only"
    )
    near_threshold: Annotated[float, Cli(metavar="F")] = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="MinHash similarity that counts as a near-duplicate",
    )
    near_window: Annotated[int, Cli(metavar="N")] = Field(
        default=250_000,
        ge=0,
        description="look for near-duplicates among the last N to 2N kept examples, which "
        "bounds memory (0: all of them)",
    )
    against: Annotated[list[str], Cli(metavar="EVAL")] = Field(
        default_factory=list, description="drop examples that overlap these evaluation files"
    )
    ngram: Annotated[int, Cli(metavar="N")] = Field(
        default=13, ge=1, description="word n-gram that counts as overlap with --against"
    )
    text_field: Annotated[str, Cli(metavar="NAME")] = Field(
        default="text", description="JSONL field holding the text"
    )
    id_field: Annotated[str, Cli(metavar="NAME")] = Field(
        default="id", description="JSONL field holding the id"
    )
    on_error: Literal["raise", "skip"] = Field(
        default="raise", description="bad input records: stop, or skip and count them"
    )
    verify: Annotated[bool, Cli(flag="--no-verify")] = Field(
        default=True,
        description="write model-written rows unchecked (by default each is checked against "
        "the run's facts, and contradicted rows are dropped)",
    )
    judge: bool = Field(
        default=False,
        description="also ask a judge model whether each row the facts leave open is "
        "entailed by its source; rejected rows are dropped",
    )
    judge_model: Annotated[str | None, Cli(metavar="NAME")] = Field(
        default=None, description="the judge's model (default: the run's own backend)"
    )
    judge_base_url: Annotated[str | None, Cli(metavar="URL")] = Field(
        default=None,
        description="the judge's OpenAI-compatible base URL (default: the run's --base-url)",
    )
    template_dir: Annotated[str | None, Cli(metavar="DIR")] = Field(
        default=None, description="directory of prompt templates that override"
    )
    prices: Annotated[dict[str, dict[str, float]], Cli(hidden=True)] = Field(
        default_factory=dict, description="dollars per million tokens by model ([prices])"
    )

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
