"""Data layer: one schema (`Cohort`), the embedded synthetic cohort and the real-data loaders."""

from .loaders import DataError, load_cohort, load_custom, load_mtsamples, load_tcga
from .schema import CANCER_TYPES, NOT_MENTIONED, PHENOTYPE_FIELDS, Cohort

__all__ = [
    "CANCER_TYPES", "NOT_MENTIONED", "PHENOTYPE_FIELDS", "Cohort", "DataError",
    "load_cohort", "load_custom", "load_mtsamples", "load_tcga",
]
