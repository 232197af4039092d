"""The Ray engine's pieces without Ray: dedup decisions, count merging, the work directory.

The cluster-wide dedup is a few plain functions over pandas frames (keys per row, what a
hash partition shows, what the driver settles); here they run in one process, over every
partition in turn, and must decide exactly what the single-process deduplicator decides.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from augment_ft.backends.base import Completion, Usage
from augment_ft.backends.usage import UsageStats
from augment_ft.cli.main import build_parser, config_from_args
from augment_ft.cluster.dedup_parts import (
    Dedup,
    DedupKeys,
    min_equal_values,
    near_drops,
    resolve_partition,
    settle,
)
from augment_ft.cluster.workdir import WorkDir
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, OutputError
from augment_ft.core.models import Example, Provenance
from augment_ft.dedup import Decontaminator, Deduplicator, NearDeduper
from augment_ft.pipeline.counts import Counts, drops_from_json, drops_to_json, merge_usage
from augment_ft.pipeline.recipe import ClusterOptions, Recipe

WORDS = ["zor", "bel", "quin", "dar", "ub", "rik", "fle", "mit", "dra", "xon", "tal", "pem"]


def corpus(seed: int, n: int = 600) -> list[Example]:
    """Rows with exact repeats (up to case and punctuation), near variants of earlier rows
    (a word added, dropped or swapped: chains among them), and fresh rows."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if texts and roll < 0.2:
            texts.append(rng.choice(texts).upper() + "!")
        elif texts and roll < 0.55:
            words = rng.choice(texts).split()
            i = rng.randrange(len(words))
            words[i : i + 1] = rng.choice([[], [words[i], rng.choice(WORDS)], [rng.choice(WORDS)]])
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choice(WORDS) + rng.choice(WORDS) for _ in range(18)))
    return [
        Example(completion=t, kind="k", provenance=Provenance(source_id=f"d{i}", strategy="s"))
        for i, t in enumerate(texts)
    ]


def cluster_decision(examples: list[Example], config: RunConfig, partitions: int = 3) -> Dedup:
    """The Ray engine's dedup, each stage run here: keys, every partition, the driver."""
    import pandas as pd

    rows = pd.DataFrame(
        {
            "seq": [i // 3 for i in range(len(examples))],
            "pos": [i % 3 for i in range(len(examples))],
            "example": [e.model_dump_json() for e in examples],
        }
    )
    keys = DedupKeys(Recipe(config).deduplicator(), partitions)(rows)
    min_equal = min_equal_values(NearDeduper(threshold=config.near_threshold))
    findings = [
        resolve_partition(keys[keys["part"] == p], min_equal, config.dedup_exact)
        for p in range(partitions)
    ]
    return settle(findings)


def local_decision(examples: list[Example], config: RunConfig, evals: list[str]) -> Deduplicator:
    dedup = Deduplicator(
        exact=config.dedup_exact,
        near=NearDeduper(threshold=config.near_threshold) if config.dedup_near else None,
        decontam=Decontaminator(evals, ngram=config.ngram) if evals else None,
        batch_size=97,  # decisions do not depend on the batch
    )
    dedup.kept = [e.id for e in dedup.filter(examples)]  # type: ignore[attr-defined]
    return dedup


@pytest.mark.parametrize(
    ("seed", "exact", "near", "against"),
    [
        (1, True, True, False),
        (2, True, True, True),
        (3, False, True, False),
        (4, True, False, True),
    ],
)
def test_cluster_dedup_keeps_what_the_single_process_dedup_keeps(
    tmp_path: Path, seed: int, exact: bool, near: bool, against: bool
) -> None:
    examples = corpus(seed)
    evals = [examples[5].text, " ".join(examples[40].text.split()[2:15])] if against else []
    eval_file = tmp_path / "eval.txt"
    eval_file.write_text("\n".join(evals) + "\n", encoding="utf-8")
    config = RunConfig(
        dedup_exact=exact, dedup_near=near, against=[str(eval_file)] if against else []
    )
    local = local_decision(examples, config, evals)
    cluster = cluster_decision(examples, config)

    kept = [e.id for i, e in enumerate(examples) if (i // 3, i % 3) not in cluster.dropped]
    assert kept == local.kept  # type: ignore[attr-defined]
    assert cluster.drops.by_reason() == local.drops.by_reason()
    reasons = local.drops.by_reason()["dedup"]
    if near:
        assert reasons["duplicate_near"] > 20  # the corpus really exercises near dedup
    if exact:
        assert reasons["duplicate_exact"] > 50
    if against:
        assert reasons["contaminated_exact"] >= 1 and reasons["contaminated_ngram"] >= 1


def test_a_chain_keeps_its_ends_as_the_single_process_detector_does() -> None:
    """A~B and B~C, A!~C: B goes (a near-duplicate of A); C stays, as nothing kept matches."""
    a, b, c = (1, 0), (2, 0), (3, 0)
    dropped = near_drops([(a, "A", b, "B", "sb"), (b, "B", c, "C", "sc")])
    assert dropped == {b: ("B", "sb", "A")}
    # With A gone for another reason first, B is kept and C goes as B's duplicate.
    dropped = near_drops(
        [((0, 0), "Z", a, "A", "sa"), (a, "A", b, "B", "sb"), (b, "B", c, "C", "sc")]
    )
    assert dropped == {a: ("A", "sa", "Z"), c: ("C", "sc", "B")}


def test_pairs_at_the_threshold_are_decided_as_the_single_process_detector_does() -> None:
    """Pairs a few edits apart straddle the 0.9 threshold; for each, the cluster's verdict
    (shared band, enough equal 8-bit values) is the single-process detector's."""
    import numpy as np

    rng = random.Random(11)
    near = NearDeduper(threshold=0.9)
    assert min_equal_values(near) == 58  # 64 values at 0.9: 57.6, plus chance agreement
    texts: list[str] = []
    for _ in range(300):
        words = [rng.choice(WORDS) + rng.choice(WORDS) for _ in range(40)]
        edited = list(words)
        for _ in range(rng.randint(0, 3)):
            edited[rng.randrange(len(edited))] = rng.choice(WORDS)
        texts += [" ".join(words), " ".join(edited)]
    examples = [
        Example(completion=t, kind="k", provenance=Provenance(source_id="d", strategy="s"))
        for t in texts
    ]
    cluster = cluster_decision(examples, RunConfig(dedup_exact=False), partitions=2)
    equal = np.count_nonzero(
        near.hasher.signatures(texts[0::2]).astype(np.uint8)
        == near.hasher.signatures(texts[1::2]).astype(np.uint8),
        axis=1,
    )
    verdicts = []
    for n in range(300):
        local = NearDeduper(threshold=0.9, bands=(near.bands, near.rows))
        dropped = local.check_and_add_many([("a", texts[2 * n]), ("b", texts[2 * n + 1])])[1]
        second = (2 * n + 1) // 3, (2 * n + 1) % 3  # its order key in cluster_decision
        assert (second in cluster.dropped) == (dropped is not None), n
        verdicts.append(dropped is not None)
    assert 30 < sum(verdicts) < 270  # both outcomes
    at_threshold = [v for v, e in zip(verdicts, equal, strict=True) if 56 <= e <= 60]
    assert len(set(at_threshold)) == 2 and len(at_threshold) > 20


def usage_of(calls: list[tuple[str, int, int, bool]]) -> UsageStats:
    stats = UsageStats()
    for model, prompt, completion, cached in calls:
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
        stats.record(model, Completion(text="x", usage=usage, model=model, cached=cached))
    return stats


def test_usage_from_many_stacks_adds_up_to_one_stacks() -> None:
    first = [("gpt-4o-mini", 10, 5, False), ("gpt-4o-mini", 3, 1, True)]
    second = [("gpt-4o-mini", 7, 2, False), ("mystery", 1, 1, False)]
    a, b, both = usage_of(first), usage_of(second), usage_of(first + second)
    a.record_retry(TimeoutError(), 0.25)
    both.record_retry(TimeoutError(), 0.25)
    merged = merge_usage([a.as_dict(), b.as_dict()])
    assert merged == both.as_dict()
    assert merged["cost_usd"] is None  # a model without a price makes the total unknown
    assert merge_usage([a.as_dict(), {}])["cost_usd"] == pytest.approx(a.cost())
    assert merge_usage([]) == {}


def test_in_flight_limits_report_the_lowest_level_any_stack_settled_at() -> None:
    limits = [
        {"in_flight_limit": {"adaptive": True, "ceiling": 8, "final": 6.5, "cuts": 2}},
        {"in_flight_limit": {"adaptive": True, "ceiling": 8, "final": 8, "cuts": 0}},
    ]
    assert merge_usage(limits)["in_flight_limit"] == {
        "adaptive": True,
        "ceiling": 8,
        "final": 6.5,
        "cuts": 2,
    }


def test_counts_travel_as_json_and_add_up() -> None:
    drops = DropLog()
    drops.add("rephrase", "parse_failure", source_id="d1", detail="bad")
    part = Counts(documents_read=2, facts_read=1, drops=drops, usage={"calls": 3})
    part.made.update({"original": 2, "rephrase": 4})
    part.quality[("rephrase", "checked")] += 4
    part.written.update({"train": 5, "val": 1})
    part.written_by_strategy["rephrase"] += 4
    again = Counts.from_json(json.loads(json.dumps(part.to_json())))
    assert again.to_json() == part.to_json()
    total = Counts.combined([part, again])
    assert (total.documents_read, total.facts_read, total.made["rephrase"]) == (4, 2, 8)
    assert total.usage["calls"] == 6 and total.written["train"] == 10
    assert total.quality[("rephrase", "checked")] == 8
    assert total.drops.counts[("rephrase", "parse_failure")] == 2
    assert part.to_json()["usage"] == {"calls": 3}  # adding did not change the parts
    assert drops_from_json(drops_to_json(drops)).samples == drops.samples


def config_for(tmp_path: Path, **fields: object) -> RunConfig:
    return RunConfig(inputs=["in.jsonl"], output=str(tmp_path / "out.jsonl"), **fields)  # type: ignore[arg-type]


def options(config: RunConfig, **changed: object) -> ClusterOptions:
    """What the Ray executor gets from the recipe of ``config`` with ``changed`` fields."""
    return Recipe(config.model_copy(update=changed)).options


def test_a_work_directory_is_refused_without_resume_or_force(tmp_path: Path) -> None:
    config = config_for(tmp_path, shards=4)
    work = WorkDir.of(options(config))
    assert work.root == tmp_path / "out.ray"
    work.prepare(options(config))
    (work.root / "shard-00000").mkdir()
    with pytest.raises(OutputError, match="--resume to continue it or --force"):
        work.check(options(config))
    work.check(options(config, resume=True))  # the same plan: fine
    work.prepare(options(config, force=True))
    assert sorted(p.name for p in work.root.iterdir()) == ["PLAN"]


def test_a_resume_with_another_shard_count_or_settings_names_them(tmp_path: Path) -> None:
    config = config_for(tmp_path, shards=4, strategies=["split"])
    WorkDir.of(options(config)).prepare(options(config))
    more = options(config, shards=8, resume=True)
    with pytest.raises(ConfigError, match=r"--shards 8, but .* planned with 4 shards"):
        WorkDir.of(more).check(more)
    other = options(config, strategies=["split", "rephrase"], resume=True)
    with pytest.raises(ConfigError, match=r"strategies: \['split'\] then, \['split', 'rephrase'\]"):
        WorkDir.of(other).check(other)
    dedup_only = options(config, near_threshold=0.8, resume=True)
    WorkDir.of(dedup_only).check(dedup_only)  # dedup settings apply after the shards


def test_a_directory_not_made_by_augment_ft_is_never_deleted(tmp_path: Path) -> None:
    config = config_for(tmp_path, force=True)
    (tmp_path / "out.ray").mkdir()
    (tmp_path / "out.ray" / "precious.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="no augment-ft work directory"):
        WorkDir.of(options(config)).prepare(options(config))
    assert (tmp_path / "out.ray" / "precious.txt").exists()


def test_the_engine_flags_reach_the_config() -> None:
    args = build_parser().parse_args(
        ["run", "in.jsonl", "-o", "o.jsonl", "--engine", "ray", "--ray-address", "10.0.0.1:6379",
         "--workers", "6", "--shards", "16"]
    )  # fmt: skip
    config = config_from_args(args)
    assert (config.engine, config.ray_address, config.workers, config.shards) == (
        "ray", "10.0.0.1:6379", 6, 16
    )  # fmt: skip
    assert RunConfig().engine == "local"


LOCAL_TWICE = """
import sys
from augment_ft.cli import main
args = ["run", sys.argv[1], "--backend", "scripted", "--strategies", "split", "-q",
        "--engine", "ray", "--shards", "2", "--workers", "1"]
for name in ("a", "b"):  # two local instances, one after the other, in one process
    assert main([*args, "-o", f"{sys.argv[2]}/{name}.jsonl"]) == 0
"""


@pytest.mark.slow
def test_a_run_without_an_address_starts_and_stops_a_local_instance(tmp_path: Path) -> None:
    """Twice in one process; nothing is left behind: no temporary directory, no token
    written under the home directory."""
    import os
    import subprocess
    import sys

    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "Velps sleep by day. They hunt at dusk."}\n', encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path)}
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        env.pop(name, None)
    before = set(Path("/tmp").glob("aft-ray-*"))  # where the engine puts its directories
    done = subprocess.run(
        [sys.executable, "-c", LOCAL_TWICE, str(docs), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = ((tmp_path / f"{n}.jsonl").read_text(encoding="utf-8") for n in "ab")
    assert first == second and len(first.splitlines()) >= 2
    assert not (tmp_path / ".ray").exists()
    assert set(Path("/tmp").glob("aft-ray-*")) <= before


def test_the_recipe_travels_and_makes_the_parts_a_local_run_makes(tmp_path: Path) -> None:
    """Pickled (as Ray sends it to actors), the recipe steps documents into what the local
    pipeline makes from the same config, and counts them the same way."""
    import asyncio
    import pickle

    from augment_ft.backends.base import run_sync
    from augment_ft.cluster.worker import StepRunner
    from augment_ft.core.models import Document
    from augment_ft.pipeline.build import build_pipeline

    docs = [Document(text=f"Velp {i} sleeps by day. It hunts grubs at dusk.") for i in range(4)]
    config = RunConfig(backend="scripted", strategies=["split", "rephrase"], no_cache=True)
    recipe = pickle.loads(pickle.dumps(Recipe(config)))
    assert recipe == Recipe(config) and hash(recipe) == hash(Recipe(config))
    seen: list[int] = []
    runner = StepRunner(recipe, actors=2)
    documents, counts = asyncio.run(
        runner.run(enumerate(docs), None, lambda seq, result: seen.append(seq))
    )
    pipeline = build_pipeline(config, documents=docs)
    local = run_sync(pipeline.run())
    assert (documents, seen) == (4, [0, 1, 2, 3])
    assert dict(counts.made) == local.examples_by_kind
    assert counts.usage["calls"] == local.backend["calls"] > 0
    assert counts.drops.by_reason() == {k: v for k, v in local.drops.items() if k != "dedup"}


def test_a_worker_model_holds_its_share_of_the_budget() -> None:
    from augment_ft.backends.limits import LimitedBackend

    config = RunConfig(backend="scripted", strategies=["rephrase"], requests_per_minute=240)
    model = Recipe(config).model(actors=4)
    assert isinstance(model, LimitedBackend) and model.requests is not None
    assert model.requests.rate == pytest.approx(1.0)  # 240 / 4 a minute
    assert Recipe(config.model_copy(update={"strategies": ["split"]})).model(4) is None


def test_a_ray_recipe_refuses_what_no_ray_run_can_do(tmp_path: Path) -> None:
    from augment_ft.pipeline.recipe import build_recipe, dataset_recipe

    config = config_for(tmp_path, backend="scripted", strategies=["split"])
    with pytest.raises(ConfigError, match="exclude each other"):
        build_recipe(config.model_copy(update={"resume": True, "force": True}))
    with pytest.raises(ConfigError, match="needs an output file"):
        build_recipe(config.model_copy(update={"output": None}))
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        build_recipe(config.model_copy(update={"backend": "nope"}))
    with pytest.raises(ConfigError, match="whole corpus"):
        corpus = {"implications": {"mode": "corpus"}}
        dataset_recipe(
            None,
            {"strategies": ["implications"], "strategy_options": corpus, "backend": "scripted"},
        )
    assert dataset_recipe(config, {"workers": 3}).options.workers == 3


def test_the_cluster_reads_no_config_field() -> None:
    """The Ray executor gets plain options and a recipe; only pipeline/build.py and
    pipeline/recipe.py read the config."""
    import ast

    import augment_ft.cluster

    for path in Path(augment_ft.cluster.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reads = [
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "config"
        ]
        assert reads == [], (path.name, reads)
