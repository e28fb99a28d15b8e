"""Torch-free foundations every layer shares: the project's words (`common.vocabulary`), one-line usage errors
(`common.cli`), secret masking (`common.mask`) and the environment record of every measurement
(`common.environment`, which imports torch only when called)."""
