"""Model organisms (tiny transformers LMs built from configs) and loading of local HF models."""

from regimescope.organisms.load import check_model_folder, load_model, save_model
from regimescope.organisms.presets import (
    PRESETS,
    OrganismConfig,
    build_organism,
    count_parameters,
    preset,
)
from regimescope.organisms.tokenizer import build_tokenizer

__all__ = [
    "PRESETS",
    "OrganismConfig",
    "build_organism",
    "build_tokenizer",
    "check_model_folder",
    "count_parameters",
    "load_model",
    "preset",
    "save_model",
]
