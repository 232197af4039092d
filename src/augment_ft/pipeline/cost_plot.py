"""``--plot FILE.png``: cumulative cost against queries, in context and fine-tuned.

Needs matplotlib (extra ``train``); without it, a DependencyError with the pip hint.
"""

from __future__ import annotations

import math
from pathlib import Path

from augment_ft.core.errors import DependencyError, OutputError
from augment_ft.pipeline.cost_model import CostComparison

__all__ = ["plot_comparison", "plot_range", "require_matplotlib"]

_DEFAULT_QUERIES = 1000


def plot_range(result: CostComparison) -> int:
    """How many queries the plot spans: twice the break-even, else enough to show the gap."""
    if result.break_even_queries is not None and result.break_even_queries > 0:
        return max(10, math.ceil(2 * result.break_even_queries))
    return _DEFAULT_QUERIES


def require_matplotlib() -> None:
    """A DependencyError with the pip hint when matplotlib is missing (checked before a run)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise DependencyError("--plot", "train", "matplotlib") from exc


def plot_comparison(result: CostComparison, path: str | Path) -> Path:
    """Draw both cumulative costs to a PNG at ``path``, the crossing marked when there is one."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    top = plot_range(result)
    queries = [0, top]
    icl = [result.cumulative(q)[0] for q in queries]
    tuned = [result.cumulative(q)[1] for q in queries]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(queries, icl, color="tab:blue", label="in-context (corpus in every prompt)")
    ax.plot(queries, tuned, color="tab:orange", label="augmented fine-tuning")
    crossing = result.break_even_queries
    if crossing is not None:
        cost = result.cumulative(crossing)[0]
        ax.plot([crossing], [cost], "o", color="black")
        ax.annotate(
            f"break-even: {crossing:,.0f} queries, ${cost:,.4g}",
            (crossing, cost),
            textcoords="offset points",
            xytext=(8, -14),
        )
        title = "Fine-tuning is cheaper after the break-even"
    else:
        title = "No break-even: a fine-tuned query costs no less than an in-context one"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("queries")
    ax.set_ylabel("cumulative cost (US dollars)")
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    target = Path(path)
    try:
        fig.tight_layout()
        fig.savefig(target, format="png", dpi=120)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {target}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
    return target
