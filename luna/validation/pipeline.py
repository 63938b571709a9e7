"""The two stages of validation, as the first cut of the seam exported them: per file
(`inspect`) and over the dataset (`judge`)."""

from luna.validation.inspect import FileInspector, missing_file_report
from luna.validation.judge import judge_dataset

__all__ = ["FileInspector", "judge_dataset", "missing_file_report"]
