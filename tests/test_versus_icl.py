"""``augment-ft estimate --versus-icl`` and ``versus_icl()``: in-context learning against
augmented fine-tuning. The JSON obeys the cost model's formulas for any prices file; C, A
and G are what the corpus, the written training file and the estimate say; bad prices
files are usage errors that name the file and the key."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augment_ft import CostComparison, Prices, RunConfig, versus_icl
from augment_ft.cli import main
from augment_ft.core.errors import ConfigError
from augment_ft.core.tokens import TokenCounter
from augment_ft.inputs.readers import read_documents
from augment_ft.outputs.stats import file_stats
from augment_ft.pipeline.cost_model import compare_costs, load_prices, render_comparison
from augment_ft.pipeline.versus_icl import measure_run

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
DOCS = [CORPUS / "velmora.md", CORPUS / "teodor-varn.md"]
# A model with a list price, so G > 0; an estimate calls nothing, so no key or server.
PRICED = ("--backend", "openai", "--model", "gpt-4o-mini", "--strategies", "split,reverse")
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")

OPENAI_PRICES = {
    "epochs": 3,
    "base": {"input": 0.15, "cached_input": 0.075, "output": 0.60},
    "fine_tuned": {"training": 3.0, "input": 0.30, "output": 1.20},
    "query": {"input_tokens": 200, "output_tokens": 300},
}
FIELDS = [
    "corpus_tokens",
    "augmented_tokens",
    "generation_cost",
    "icl_cost_per_query",
    "ft_cost_per_query",
    "one_time_cost",
    "break_even_queries",
]


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str | Path) -> Result:
    """``augment-ft ARGS`` in-process, with its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


def to_toml(prices: dict[str, Any]) -> str:
    """A prices mapping as TOML (top-level keys first, then one table per section)."""
    lines = [f"{k} = {_value(v)}" for k, v in prices.items() if not isinstance(v, dict)]
    for section, table in prices.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)  # ints as ints, floats with a point or an exponent, as TOML wants


def write_prices(tmp_path: Path, prices: dict[str, Any], name: str = "prices.toml") -> Path:
    path = tmp_path / name
    path.write_text(to_toml(prices), encoding="utf-8")
    return path


def comparison_json(*args: str | Path) -> dict[str, Any]:
    result = cli("estimate", *args, "--versus-icl", "--json", "-q")
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)  # stdout holds the JSON and nothing else
    return data


def assert_formula(data: dict[str, Any], prices: dict[str, Any]) -> None:
    """Each derived field is the issue's formula of C, A, G and the prices (to rounding)."""
    c, a, g = data["corpus_tokens"], data["augmented_tokens"], data["generation_cost"]
    b, ft, q = prices["base"], prices["fine_tuned"], prices["query"]
    qi, qo = q["input_tokens"], q["output_tokens"]
    icl = (c * b["cached_input"] + qi * b["input"] + qo * b["output"]) / 1e6
    tuned = (qi * ft["input"] + qo * ft["output"]) / 1e6
    one_time = g + a * prices["epochs"] * ft["training"] / 1e6
    close = {"rel": 1e-9, "abs": 1e-12}
    assert data["icl_cost_per_query"] == pytest.approx(icl, **close)
    assert data["ft_cost_per_query"] == pytest.approx(tuned, **close)
    assert data["one_time_cost"] == pytest.approx(one_time, **close)
    if icl - tuned > 0:
        assert data["break_even_queries"] == pytest.approx(one_time / (icl - tuned), **close)
    else:
        assert data["break_even_queries"] is None


# --------------------------------------------------------------------------- the formula

price = st.one_of(
    st.floats(min_value=0, max_value=1e4, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10_000),
)
tokens = st.integers(min_value=0, max_value=100_000)
prices_files = st.fixed_dictionaries(
    {
        "epochs": st.integers(min_value=1, max_value=100),
        "base": st.fixed_dictionaries({"input": price, "cached_input": price, "output": price}),
        "fine_tuned": st.fixed_dictionaries({"training": price, "input": price, "output": price}),
        "query": st.fixed_dictionaries({"input_tokens": tokens, "output_tokens": tokens}),
    }
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prices=prices_files,
    c=st.integers(0, 10**9),
    a=st.integers(0, 10**9),
    g=st.floats(0, 1e6, allow_nan=False),
)
def test_any_prices_file_gives_the_formula(
    tmp_path: Path, prices: dict[str, Any], c: int, a: int, g: float
) -> None:
    loaded = load_prices(write_prices(tmp_path, prices))
    result = compare_costs(corpus_tokens=c, augmented_tokens=a, generation_cost=g, prices=loaded)
    data = json.loads(result.model_dump_json())
    assert data["prices"] == prices  # the file round-trips as given (ints stay ints)
    assert [data[k] for k in ("corpus_tokens", "augmented_tokens", "generation_cost")] == [c, a, g]
    assert_formula(data, prices)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """C, A and G of the priced run on two documents, measured once."""
    path = write_prices(tmp_path_factory.mktemp("prices"), OPENAI_PRICES)
    return comparison_json(*DOCS, *PRICED, "--prices", path)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prices=prices_files)
def test_the_cli_json_follows_the_formula_for_any_prices_file(
    tmp_path: Path, measured: dict[str, Any], prices: dict[str, Any]
) -> None:
    data = comparison_json(*DOCS, *PRICED, "--prices", write_prices(tmp_path, prices))
    assert list(data)[: len(FIELDS)] == FIELDS
    # C, A and G belong to the run, not to the prices
    for key in ("corpus_tokens", "augmented_tokens", "generation_cost"):
        assert data[key] == measured[key]
    assert_formula(data, prices)


# --------------------------------------------------------------------------- C, A and G


def test_corpus_tokens_are_the_documents_tokens_and_facts_not_in_them(tmp_path: Path) -> None:
    facts = tmp_path / "facts.jsonl"
    inside = "Its capital is Tarsk, a walled city of about 40,000 people."
    facts.write_text(
        json.dumps(
            {"subject": "Tarsk", "relation": "capital_of", "object": "Velmora", "text": inside}
        )
        + "\n"
        + json.dumps({"subject": "Orrin", "relation": "larger_than", "object": "Mirrow"})
        + "\n",
        encoding="utf-8",
    )
    counter = TokenCounter("gpt-4o-mini")
    assert counter.exact
    documents = sum(counter.count(d.text) for d in read_documents([str(p) for p in DOCS]))
    only_docs = comparison_json(*DOCS, *PRICED, "--prices", write_prices(tmp_path, OPENAI_PRICES))
    assert only_docs["corpus_tokens"] == documents
    with_facts = comparison_json(
        *DOCS, facts, *PRICED, "--prices", write_prices(tmp_path, OPENAI_PRICES)
    )
    # the fact whose sentence is in velmora.md adds nothing; the other adds its statement
    assert with_facts["corpus_tokens"] == documents + counter.count("Orrin larger than Mirrow.")


@pytest.mark.parametrize("val_fraction", ["0", "0.5"])
def test_augmented_tokens_are_what_stats_counts_in_the_written_train_file(
    tmp_path: Path, val_fraction: str
) -> None:
    # split calls no model, so the estimate keeps exactly the rows a run writes
    run = ("--strategies", "split", "--model", "gpt-4o-mini", "--val-fraction", val_fraction)
    out = tmp_path / "train.jsonl"
    assert cli("run", CORPUS, *run, "--backend", "scripted", "-o", out, "-q").code == 0
    data = comparison_json(
        CORPUS, *run, "--backend", "openai", "--prices", write_prices(tmp_path, OPENAI_PRICES)
    )
    stats = file_stats(out, model="gpt-4o-mini")
    assert stats.records > 50 and stats.exact_tokens
    assert data["augmented_tokens"] == stats.tokens_total  # the train file only, never val
    val = tmp_path / "train.val.jsonl"
    assert val.exists() == (val_fraction != "0")
    assert data["generation_cost"] == 0.0  # no model call, nothing to pay


def test_every_model_row_is_counted_though_the_stubs_repeat_one_another() -> None:
    # a rephrasing and a reversal of one sentence get the same stub; a model's would differ
    config = RunConfig(
        inputs=[str(p) for p in DOCS],
        strategies=["rephrase", "reverse"],
        backend="openai",
        model="gpt-4o-mini",
        keep_originals=False,
    )
    measure = measure_run(config)
    quality = measure.report.quality
    for strategy in ("rephrase", "reverse"):
        q = quality[strategy]
        assert q["written"] == q["checked"] - q["contradicted"] > 0, strategy
    assert sum(measure.report.examples_written.values()) == sum(
        q["written"] for q in quality.values()
    )


def test_generation_cost_is_the_estimates_cost(tmp_path: Path, measured: dict[str, Any]) -> None:
    report = tmp_path / "report.json"
    assert cli("estimate", *DOCS, *PRICED, "--report", report, "-q").code == 0
    cost = json.loads(report.read_text(encoding="utf-8"))["estimated_cost_usd"]
    assert cost > 0
    assert measured["generation_cost"] == pytest.approx(cost, rel=1e-12)
    assert measured["augmented_tokens"] > measured["corpus_tokens"] > 0


def test_the_embedded_default_costs_nothing_to_generate(tmp_path: Path) -> None:
    data = comparison_json(*DOCS, "--prices", write_prices(tmp_path, OPENAI_PRICES))
    assert data["generation_cost"] == 0.0
    assert data["augmented_tokens"] > 0


def test_an_unpriced_generation_model_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    prices = write_prices(tmp_path, OPENAI_PRICES)
    args = ("--backend", "openai", "--model", "my-model", "--strategies", "reverse")
    result = cli("estimate", *DOCS, *args, "--versus-icl", "--prices", prices)
    assert result.code == 2
    assert "no price for 'my-model'" in result.err and '[prices."my-model"]' in result.err
    config = tmp_path / "run.toml"
    config.write_text('[prices."my-model"]\ninput = 1.0\noutput = 2.0\n', encoding="utf-8")
    data = comparison_json(*DOCS, *args, "--config", config, "--prices", prices)
    assert data["generation_cost"] > 0


# --------------------------------------------------------------------------- no break-even


def test_no_break_even_when_a_fine_tuned_query_costs_no_less(tmp_path: Path) -> None:
    dear = {**OPENAI_PRICES, "fine_tuned": {"training": 3.0, "input": 10.0, "output": 40.0}}
    path = write_prices(tmp_path, dear)
    data = comparison_json(*DOCS, *PRICED, "--prices", path)
    assert data["break_even_queries"] is None
    assert data["ft_cost_per_query"] > data["icl_cost_per_query"]
    table = cli("estimate", *DOCS, *PRICED, "--versus-icl", "--prices", path)
    assert table.code == 0, table.err
    assert "break-even" in table.out and "never" in table.out


def test_equal_per_query_costs_have_no_break_even() -> None:
    prices = Prices.model_validate(
        {
            "epochs": 1,
            "base": {"input": 1.0, "cached_input": 0.5, "output": 2.0},
            "fine_tuned": {"training": 1.0, "input": 1.0, "output": 2.0},
            "query": {"input_tokens": 10, "output_tokens": 10},
        }
    )
    # an empty corpus: in context costs what a fine-tuned query costs, so never cheaper
    result = compare_costs(corpus_tokens=0, augmented_tokens=5, generation_cost=0.0, prices=prices)
    assert result.icl_cost_per_query == result.ft_cost_per_query
    assert result.break_even_queries is None
    one = compare_costs(corpus_tokens=1, augmented_tokens=5, generation_cost=0.0, prices=prices)
    assert one.break_even_queries == pytest.approx(5e-6 / 0.5e-6)


def test_a_break_even_is_where_the_cumulative_costs_cross() -> None:
    result = compare_costs(
        corpus_tokens=200_000,
        augmented_tokens=1_000_000,
        generation_cost=0.5,
        prices=load_prices(OPENAI_PRICES),
    )
    n = result.break_even_queries
    assert n is not None and n > 0
    icl, tuned = result.cumulative(n)
    assert icl == pytest.approx(tuned)
    below, above = result.cumulative(n * 0.9), result.cumulative(n * 1.1)
    assert below[0] < below[1] and above[0] > above[1]  # in context first, fine-tuned after


# --------------------------------------------------------------------------- bad files

GOOD = to_toml(OPENAI_PRICES)
BAD_FILES = {
    "missing key": (GOOD.replace("cached_input = 0.075\n", ""), "base.cached_input: missing"),
    "missing table": (GOOD.split("[query]")[0], "[query]: missing table"),
    "missing epochs": (GOOD.replace("epochs = 3\n", ""), "epochs: missing"),
    "negative": (GOOD.replace("training = 3.0", "training = -3.0"), "fine_tuned.training"),
    "string": (GOOD.replace("output = 0.6", 'output = "0.6"'), "base.output: must be"),
    "boolean": (GOOD.replace("input = 0.15", "input = true"), "base.input: must be"),
    "nan": (GOOD.replace("input = 0.15", "input = nan"), "base.input: must be"),
    "infinite": (GOOD.replace("output = 1.2", "output = inf"), "fine_tuned.output: must be"),
    "fractional tokens": (
        GOOD.replace("input_tokens = 200", "input_tokens = 2.5"),
        "query.input_tokens: must be",
    ),
    "zero epochs": (GOOD.replace("epochs = 3", "epochs = 0"), "epochs: must be"),
    "unknown key": (GOOD.replace("output = 1.2", "output = 1.2\noutptu = 1"), "fine_tuned.outptu"),
    "unknown section": (GOOD + "[provider]\nname = 1\n", "provider: unknown key"),
    "not a table": ("base = 3\n" + GOOD.split("[base]")[1].split("[fine_tuned]")[0], "base"),
    "not TOML": ("epochs = [\n", "not valid TOML"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_prices_file_is_a_usage_error_naming_file_and_key(tmp_path: Path, kind: str) -> None:
    text, expected = BAD_FILES[kind]
    path = tmp_path / "bad-prices.toml"
    path.write_text(text, encoding="utf-8")
    result = cli("estimate", *DOCS, "--versus-icl", "--prices", path)
    assert result.code == 2
    assert result.out == ""
    assert f"prices file {path}" in result.err and expected in result.err
    assert "Traceback" not in result.err
    with pytest.raises(ConfigError, match=re.escape(expected)):
        versus_icl(DOCS, path)


def test_an_unreadable_or_undecodable_prices_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = cli("estimate", *DOCS, "--versus-icl", "--prices", tmp_path / "none.toml")
    assert missing.code == 2 and "cannot read the prices file" in missing.err
    binary = tmp_path / "latin1.toml"
    binary.write_bytes(b"epochs = 3 # caf\xe9\n")
    result = cli("estimate", *DOCS, "--versus-icl", "--prices", binary)
    assert result.code == 2 and f"prices file {binary}: not valid TOML" in result.err


def test_a_bad_prices_mapping_names_the_key() -> None:
    bad = {**OPENAI_PRICES, "query": {"input_tokens": -1, "output_tokens": 300}}
    with pytest.raises(ConfigError, match=r"prices: query\.input_tokens: must be tokens"):
        versus_icl(DOCS, bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--json",), "--json needs --versus-icl"),
        (("--prices", "p.toml", "--plot", "x.png"), "--prices, --plot needs --versus-icl"),
        (("--versus-icl",), "--versus-icl needs --prices"),
    ],
)
def test_the_comparison_flags_go_together(args: tuple[str, ...], message: str) -> None:
    result = cli("estimate", *DOCS, *args)
    assert result.code == 2
    assert message in result.err


# --------------------------------------------------------------------------- CLI and plot


def test_the_console_script_prints_the_table_with_formulas_and_draws_the_plot(
    tmp_path: Path,
) -> None:
    prices = write_prices(tmp_path, OPENAI_PRICES)
    png = tmp_path / "cost.png"
    proc = subprocess.run(
        [str(CONSOLE_SCRIPT), "estimate", *map(str, DOCS), *PRICED, "--versus-icl",
         "--prices", str(prices), "--plot", str(png)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = comparison_json(*DOCS, *PRICED, "--prices", prices)
    assert f"{data['corpus_tokens']:,}" in proc.stdout
    assert f"{data['augmented_tokens']:,}" in proc.stdout
    for formula in (
        "(C x 0.075 + 200 x 0.15 + 300 x 0.6) / 1e6",
        "(200 x 0.3 + 300 x 1.2) / 1e6",
        "G + A x 3 epochs x 3 / 1e6",
        "one-time / (in-context - fine-tuned)",
    ):
        assert formula in proc.stdout
    assert f"plot: {png}" in proc.stdout
    assert_png(png)


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100


@pytest.mark.parametrize("corpus_tokens", [200_000, 0])
def test_the_plot_is_drawn_with_and_without_a_crossing(tmp_path: Path, corpus_tokens: int) -> None:
    from augment_ft.pipeline.cost_plot import plot_comparison, plot_range

    result = compare_costs(
        corpus_tokens=corpus_tokens,
        augmented_tokens=1_000_000,
        generation_cost=0.5,
        prices=load_prices(OPENAI_PRICES),
    )
    png = plot_comparison(result, tmp_path / "plot.png")
    assert_png(png)
    if result.break_even_queries is None:
        assert plot_range(result) == 1000
    else:
        assert plot_range(result) == math.ceil(2 * result.break_even_queries)


def test_plot_without_matplotlib_fails_before_the_run_with_the_pip_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were missing
    prices = write_prices(tmp_path, OPENAI_PRICES)
    report = tmp_path / "report.json"
    png = tmp_path / "x.png"
    args = ("--versus-icl", "--prices", prices, "--plot", png, "--report", report)
    result = cli("estimate", *DOCS, *args)
    assert result.code == 1
    assert "pip install 'augment-ft[train]'" in result.err and "matplotlib" in result.err
    assert not png.exists() and not report.exists()  # no dry run was made


def test_an_unwritable_plot_is_an_output_error(tmp_path: Path) -> None:
    prices = write_prices(tmp_path, OPENAI_PRICES)
    target = tmp_path / "no-such-dir" / "x.png"
    result = cli("estimate", *DOCS, "--versus-icl", "--prices", prices, "--plot", target)
    assert result.code == 1
    assert "cannot write the plot" in result.err


# --------------------------------------------------------------------------- Python API


def test_the_python_api_equals_the_cli_json(tmp_path: Path, measured: dict[str, Any]) -> None:
    path = write_prices(tmp_path, OPENAI_PRICES)
    options = {"backend": "openai", "model": "gpt-4o-mini", "strategies": ["split", "reverse"]}
    from_paths = versus_icl(DOCS, path, **options)
    assert isinstance(from_paths, CostComparison)
    assert from_paths.model_dump(mode="json") == measured
    config = RunConfig(inputs=[str(p) for p in DOCS], **options)  # type: ignore[arg-type]
    from_config = versus_icl(config, OPENAI_PRICES)
    assert from_config == from_paths
    # a config's fields can be overridden by keyword, as on the command line
    split_only = versus_icl(config, load_prices(path), strategies=["split"])
    assert split_only.augmented_tokens < from_paths.augmented_tokens
    assert split_only.corpus_tokens == from_paths.corpus_tokens


def test_the_table_renders_a_break_even_in_queries() -> None:
    result = compare_costs(
        corpus_tokens=200_000,
        augmented_tokens=1_000_000,
        generation_cost=0.5,
        prices=load_prices(OPENAI_PRICES),
    )
    table = render_comparison(result, prices_origin="p.toml")
    assert result.break_even_queries is not None
    assert f"{result.break_even_queries:,.1f} queries" in table
    assert "200,000" in table and "1,000,000" in table and "p.toml" in table
