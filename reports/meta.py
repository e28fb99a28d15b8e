"""What a page says about a study besides its figures: the header rows (space, command, dataset,
budget, training, device, environment, trials, why seeds stopped short, storage, date, commit) and the
trial-state counts.
Every config string is shown through `mask_secrets`: no password in a URL reaches a page."""
from __future__ import annotations

import pandas as pd

from records.table import STATES, human_count
from .environment_text import environment_line, environment_pairs
from common.mask import mask_config

__all__ = ["header", "state_counts", "counts_text", "mixed_text"]

NOT_RECORDED = "not recorded"


def state_counts(df: pd.DataFrame) -> dict[str, int]:
    counts = df["state"].value_counts().to_dict() if "state" in df else {}
    out = {s: int(counts.pop(s, 0)) for s in STATES}
    out.update({str(k): int(v) for k, v in counts.items()})
    return out


def counts_text(df: pd.DataFrame, *, keep=("COMPLETE", "FAIL")) -> str:
    """'9 COMPLETE, 1 FAIL' (states in `keep` shown even at 0)."""
    return ", ".join(f"{n} {s}" for s, n in state_counts(df).items() if n or s in keep)


def _budget(config: dict, df: pd.DataFrame) -> str:
    parts = []
    if config.get("match"):
        parts.append(f"match {config['match']}")
    budgets = config.get("budgets")
    if isinstance(budgets, (list, tuple)) and budgets:
        parts.append("budgets " + ", ".join(human_count(b) if isinstance(b, (int, float)) else str(b) for b in budgets))
    done = df[df["state"] == "COMPLETE"] if "state" in df else df  # a skipped duplicate has no budget
    labels = sorted({b for b in done.get("budget_label", []) if isinstance(b, str) and b})
    if labels:
        parts.append("groups in the data: " + ", ".join(labels))
    return "; ".join(parts) or NOT_RECORDED


def _first(config: dict, key: str, df: pd.DataFrame):
    """The config's value, else the distinct values of the same column in the trials."""
    v = config.get(key)
    if v not in (None, "", []):
        return v
    if key in df:
        vals = sorted({str(x) for x in df[key] if isinstance(x, str) and x})
        return ", ".join(vals) or None
    return None


def mixed_text(df: pd.DataFrame, column: str, *, where: bool = True) -> str:
    """A per-trial setting stated once: 'channels_last', or with its exceptions counted,
    'channels_last, except nchw in 4 of 16 trials (depthwise, segments=8)'; without `where` (their
    positions) as short as an axis title needs, 'channels_last (nchw in 4 of 16 trials)'."""
    if column not in df:
        return ""
    vals = df[column].map(lambda v: v if isinstance(v, str) and v not in ("", "<NA>") else None).dropna()
    counts = vals.value_counts()
    if counts.empty:
        return ""
    rest = []
    for other, n in counts.iloc[1:].items():
        at = sorted({str(p) for p in df.loc[vals.index[vals == other], "position"]}) if "position" in df else []
        named = f" ({', '.join(at[:4])}{', ...' if len(at) > 4 else ''})" if where and at else ""
        rest.append(f"{other} in {n} of {len(vals)} trials{named}")
    if not rest:
        return str(counts.index[0])
    return f"{counts.index[0]}, except {'; '.join(rest)}" if where else f"{counts.index[0]} ({'; '.join(rest)})"


def _execution(df: pd.DataFrame) -> str:
    """How the trials were computed: 'channels_last, narrow groups merged where faster in 12 of 80'."""
    parts = [mixed_text(df, "memory_format")]
    if "group_merge" in df:
        merged = int(df["group_merge"].map(lambda m: isinstance(m, str) and m not in ("", "none")).sum())
        if merged:
            parts.append(f"narrow groups merged where faster in {merged} of {len(df)} trials")
    if "deterministic" in df:
        reproducible = int(df["deterministic"].eq(True).sum())  # older trials: NaN
        if reproducible:
            parts.append("deterministic algorithms" + (f" in {reproducible} of {len(df)} trials"
                                                       if reproducible < len(df) else ""))
    return ", ".join(p for p in parts if p)


def _commit(config: dict) -> str:
    """The commit, and whether the checkout had uncommitted changes when the study ran."""
    commit = config.get("git_commit") or NOT_RECORDED
    env = config.get("environment")
    dirty = env.get("git_dirty") if isinstance(env, dict) else None
    return f"{commit} (with uncommitted changes)" if dirty is True and commit != NOT_RECORDED else commit


def header(df: pd.DataFrame, config: dict | None) -> dict:
    """{'name': ..., 'rows': [{'label', 'value', 'kind'}]} for the header macro (kind: text, command,
    code or environment: {'line', 'pairs'}, the line shown and the whole record folded)."""
    config = mask_config(dict(config or {}))
    seeds, backend = config.get("seeds"), _first(config, "backend", df)
    training = [
        f"{config['epochs']} epoch{'s' if config['epochs'] != 1 else ''}" if config.get("epochs") is not None else "",
        f"batch size {config['batch_size']}" if config.get("batch_size") is not None else "",
        f"seeds {seeds}" if seeds not in (None, "", []) else "",
        _execution(df),
    ]
    device = [_first(config, "device", df), f"backend {backend}" if backend else None]
    env = config.get("environment")
    environment = {"line": environment_line(env, df, config.get("workers")), "pairs": environment_pairs(env)}
    total = len(df)
    rows = [
        ("space", _first(config, "space", df) or NOT_RECORDED, "text"),
        ("command", config.get("command") or NOT_RECORDED, "command"),
        ("dataset", _first(config, "dataset", df) or NOT_RECORDED, "text"),
        ("budget", _budget(config, df), "text"),
        ("training", ", ".join(x for x in training if x) or NOT_RECORDED, "text"),
        ("device", ", ".join(str(x) for x in device if x) or NOT_RECORDED, "text"),
        ("environment", environment, "environment"),
        ("trials", f"{total} in all: {counts_text(df)}", "text"),
        *([("stopped short", config["seeds_stopped"], "text")] if config.get("seeds_stopped") else []),
        ("storage", config.get("storage") or NOT_RECORDED, "text"),
        ("date", config.get("date") or NOT_RECORDED, "text"),
        ("git commit", _commit(config), "code"),
    ]
    return {
        "name": config.get("study_name") or "unnamed study",
        "rows": [{"label": label, "value": value, "kind": kind} for label, value, kind in rows],
    }
