"""`python -m spectrum.cost --model FILE.py:FUNCTION --image-size N`: your own network's costs per position.

The model (spectrum.user_model) is converted at each position (spectrum.convert) and counted by fvcore
(spectrum.counting.count: params, MACs, activations; conv-only MACs from fvcore's own conv count). Writes
DIR/cost.csv (the columns of every cost.csv, then conv_macs and the ratios to the unconverted model), DIR/layers.csv (one row
per position and converted layer: the conv, its block, segments, inner width, MACs and params before and after,
ratio, tolerance) and DIR/cost.json (the command, the model's source with its sha256, the unconverted model's
counts, the environment). `--points all` is every position every converted layer allows
(`spectrum.convert.allowed_positions`).
"""
from __future__ import annotations

import json
import os
import shlex
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from common.cli import UsageError, positive_int
from common.vocabulary import ORDERS
from .convert import (MATCHES, ConversionError, allowed_positions, conv_calls, convert_report, convertible,
                      layer_segments)
from .counting import count, eval_mode, first_tensor
from .devices import environment

__all__ = ["MODEL_FLAGS", "ModelRun", "add_model_arguments", "check_net_flags", "conv_macs", "layer_view",
           "measure_model", "model_tables", "resolve_model"]

# flags that only --model reads (their defaults are None so a --net run can say they were given)
MODEL_FLAGS = {"num_classes": ("--num-classes", 10), "match": ("--match", "macs"),
               "order": ("--order", "spatial_first"), "only": ("--only", None)}


def add_model_arguments(parser) -> None:
    parser.add_argument("--num-classes", type=positive_int, default=None,
                        help="with --model: num_classes passed to FUNCTION (default 10)")
    parser.add_argument("--match", choices=MATCHES, default=None,
                        help="with --model: size each block to cost the conv's MACs or params, or none (inner width "
                             "= the conv's output channels) (default macs)")
    parser.add_argument("--order", choices=ORDERS, default=None,
                        help="with --model: block order (default spatial_first)")
    parser.add_argument("--only", default=None, metavar="REGEX",
                        help="with --model: convert only the kxk convs whose qualified name matches (re.search)")


def check_net_flags(args) -> None:
    """A UsageError when a --model flag is given without --model."""
    for name, (flag, _) in MODEL_FLAGS.items():
        if getattr(args, name) is not None:
            raise UsageError(f"argument {flag}: needs --model")


@dataclass(frozen=True)
class ModelRun:
    """What the flags resolve to for --model: the loaded model, its input, the options, the positions, the folder."""

    ref: str
    model: nn.Module
    input_shape: tuple
    options: dict  # order, match, only: convert_report's keyword arguments
    positions: list
    out: str


def _positions(model, points: str, options: dict) -> list:
    if points == "all":
        return allowed_positions(model, options["order"], options["only"], options["match"])
    labels = [p.strip() for p in points.split(",")]
    if any(label in ("", "all") for label in labels):
        raise UsageError(f"argument --points: {points!r} is not allowed; expected 'all' or a comma list of regular, "
                         f"depthwise, segments=N, group_width=N")
    for label in labels:
        try:
            layer_segments(model, label, options["order"], options["only"], options["match"])
        except ConversionError as exc:
            raise UsageError(f"argument --points: {exc}") from None
    return list(dict.fromkeys(labels))


def resolve_model(args) -> ModelRun:
    """The --model flags resolved: the model loaded and checked (a convertible conv, a forward pass at the input
    shape), the positions listed; a UsageError (one line naming the flag) otherwise."""
    from .user_model import load_model

    for flag in ("latency", "memory"):
        if getattr(args, flag):
            raise UsageError(f"argument --{flag}: not available with --model (counts only)")
    if args.image_size is None:
        raise UsageError("argument --image-size: needed with --model (the input side in pixels)")
    options = {name: default if getattr(args, name) is None else getattr(args, name)
               for name, (_, default) in MODEL_FLAGS.items()}
    num_classes = options.pop("num_classes")
    in_channels = args.in_channels or 3
    shape = (in_channels, args.image_size, args.image_size)
    try:
        model = load_model(args.model, num_classes=num_classes, in_channels=in_channels)
        names = [name for name, _ in convertible(model, options["only"])]
        conv_calls(model, names, shape)
    except UsageError as exc:
        raise UsageError(f"argument --model: {exc}") from None
    positions = _positions(model, args.points, options)
    function = args.model.rpartition(":")[2]
    out = args.out or os.path.join("runs", "cost", f"{function}-{args.image_size}")
    return ModelRun(args.model, model, shape, options, positions, out)


def conv_macs(model: nn.Module, input_shape) -> int:
    """Multiply-adds of the model's convolutions alone, as fvcore's FlopCountAnalysis counts them (batch 1, eval)."""
    from fvcore.nn import FlopCountAnalysis

    ref = first_tensor(model)
    x = torch.zeros((1, *input_shape), dtype=ref.dtype if ref is not None else torch.float32,
                    device=ref.device if ref is not None else "cpu")
    with eval_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
        return int(analysis.uncalled_modules_warnings(False).tracer_warnings("none").by_operator()["conv"])


def _totals(model: nn.Module, shape) -> dict:
    c = count(model, shape)
    return {**c.as_dict(), "conv_macs": conv_macs(model, shape)}


def model_tables(run: ModelRun):
    """(the unconverted model's counts, one row per position, one row per position and converted layer)."""
    import pandas as pd

    original = _totals(run.model, run.input_shape)
    rows, layers = [], []
    for position in run.positions:
        conversion = convert_report(run.model, position, input_shape=run.input_shape, **run.options)
        totals = _totals(conversion.model, run.input_shape)
        rows.append({"position": conversion.position, **totals,
                     "params_ratio": round(totals["params"] / original["params"], 4),
                     "macs_ratio": round(totals["macs"] / original["macs"], 4)})
        layers += conversion.rows()
    return original, pd.DataFrame(rows), pd.DataFrame(layers)


def layer_view(layers):
    """The layers table as printed: one row per layer, one column per position ('g<segments> w<inner> <ratio>')."""
    cells = layers.assign(cell=[f"g{r.segments} w{r.inner_width} {r.ratio:.3f}" for r in layers.itertuples()])
    view = cells.pivot(index="layer", columns="position", values="cell")
    first = layers.drop_duplicates("layer").set_index("layer")
    view = view.reindex(index=first.index, columns=list(dict.fromkeys(layers.position)))
    return view.assign(conv=first.conv, macs=first.macs_before)[["conv", "macs", *view.columns]].reset_index()


def _sidecar(argv, run: ModelRun, original: dict, table, elapsed: float) -> dict:
    from .cost import COUNTING
    from .user_model import model_source

    return {
        "command": "python -m spectrum.cost " + shlex.join(argv),
        "model": run.ref, "source": model_source(run.ref), "input_shape": list(run.input_shape),
        **run.options, "points": list(table.position), "original": original,
        "counting": COUNTING + "; conv_macs: convolutions alone (fvcore's conv count); ratios: to the original",
        "elapsed_s": round(elapsed, 3),
        "environment": environment("cpu"),
    }


def measure_model(argv, run: ModelRun) -> tuple[str, str]:
    """Count the model and every position, write cost.csv, layers.csv and cost.json; the tables and the note."""
    start = time.perf_counter()
    original, table, layers = model_tables(run)
    elapsed = time.perf_counter() - start
    os.makedirs(run.out, exist_ok=True)
    table.to_csv(os.path.join(run.out, "cost.csv"), index=False)
    layers.to_csv(os.path.join(run.out, "layers.csv"), index=False)
    with open(os.path.join(run.out, "cost.json"), "w") as f:
        json.dump(_sidecar(argv, run, original, table, elapsed), f, indent=2)
    head = (f"{run.ref} at {'x'.join(map(str, run.input_shape))}: params {original['params']}, macs "
            f"{original['macs']}, conv_macs {original['conv_macs']} ({run.options['order']}, match "
            f"{run.options['match']})")
    text = "\n\n".join([head, table.to_string(index=False), layer_view(layers).to_string(index=False)])
    return text, f"wrote {os.path.join(run.out, 'cost.csv')}, layers.csv and cost.json ({elapsed:.1f} s)"
