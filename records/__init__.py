"""A study's trials as data, torch-free: the one record a trial stores (record), the trials table written,
read and typed once (table), and the one points layer every consumer aggregates through (points)."""
from .table import load_study_dir, tidy, write_trial_tables

__all__ = ["load_study_dir", "tidy", "write_trial_tables"]
