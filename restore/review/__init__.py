"""restore.review: the before/after review report (alignment, fidelity map, metrics, static HTML page)."""

from restore.review.report import ReviewOptions, build_report, write_report

__all__ = ["ReviewOptions", "build_report", "write_report"]
