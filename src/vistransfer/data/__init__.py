"""Datasets: loaders return images float32 (N, C, H, W) in [0, 1] and labels int64 (N,)."""

from .datasets import ENV_DATA_DIR, Split, default_data_dir, list_datasets, load_dataset

__all__ = ["ENV_DATA_DIR", "Split", "default_data_dir", "list_datasets", "load_dataset"]
