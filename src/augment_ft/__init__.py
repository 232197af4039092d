"""augment_ft: turn documents into augmented fine-tuning datasets.

The names scripts call, imported plainly. Nothing here needs an optional extra:
``llama_cpp``, ``ray``, ``datasets``, ``torch`` and ``matplotlib`` load when a backend,
an engine or a plot that needs them is used (a test checks it).
"""

from augment_ft.backends.base import ChatRequest, Completion
from augment_ft.backends.local import LocalBackend
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.cluster.api import augment_dataset
from augment_ft.core.config import RunConfig, load_config
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import AugmentError
from augment_ft.core.models import Document, Example, Fact, Message, Provenance
from augment_ft.inputs.readers import read_documents, read_facts, read_inputs
from augment_ft.outputs.formats import FORMATS, validate_file
from augment_ft.pipeline.api import augment, run
from augment_ft.pipeline.build import build_pipeline
from augment_ft.pipeline.cost_model import CostComparison, Prices
from augment_ft.pipeline.pipeline import Pipeline
from augment_ft.pipeline.step import StepParts, step
from augment_ft.pipeline.versus_icl import versus_icl
from augment_ft.strategies.builtin import STRATEGIES
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.extract import ExtractStrategy
from augment_ft.strategies.implications import ImplicationsStrategy
from augment_ft.strategies.qa import QAStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.split import SplitStrategy
from augment_ft.strategies.symbolic import SymbolicStrategy
from augment_ft.text.splitter import split_sentences

__version__ = "0.1.0"

__all__ = [
    "AugmentError",
    "ChatRequest",
    "Completion",
    "CostComparison",
    "Document",
    "DropLog",
    "Example",
    "ExtractStrategy",
    "FORMATS",
    "Fact",
    "ImplicationsStrategy",
    "LocalBackend",
    "Message",
    "OpenAIBackend",
    "Pipeline",
    "Prices",
    "Provenance",
    "QAStrategy",
    "RephraseStrategy",
    "ReverseStrategy",
    "RunConfig",
    "STRATEGIES",
    "ScriptedBackend",
    "SplitStrategy",
    "StepParts",
    "StrategyContext",
    "SymbolicStrategy",
    "__version__",
    "augment",
    "augment_dataset",
    "build_pipeline",
    "load_config",
    "read_documents",
    "read_facts",
    "read_inputs",
    "run",
    "split_sentences",
    "step",
    "validate_file",
    "versus_icl",
]
