"""--model FILE.py:FUNCTION (or package.module:FUNCTION): your own network studied across the spectrum,
through the same spaces, data, verdict and page as the harness's own networks.

Flags. `--model` names the network; FUNCTION gets the dataset's `num_classes`, and `in_channels` where its
signature takes it (spectrum.user_model). `--only REGEX` converts only the kxk convs whose qualified name matches
(default: every kxk conv). `--match macs|params` sizes every converted block to cost what its conv costs, layer by
layer, so every position costs what the model costs: one budget, labelled "<match> as the model". `--match none`
keeps each block's inner width at its conv's output channels (unmatched). `--net`, `--width`, `--depth` and
`--budgets` describe the harness's own networks (a family, its base width and depth, cost targets its width
matching reaches), which a model loaded by reference has none of: each is a usage error with --model, as is a
`--backend` other than torch (the converted blocks are torch convolutions).

Positions. As for the harness's families, a run's nominal segment count S is a divisor of a base width B: 1 is
regular, B is depthwise (every converted layer at group width 1), and each S between is segments=S in every
converted layer. B is the largest segment count every converted layer allows in every order the space trains
(`spectrum.convert.common_segments`: the greatest common divisor of the layers' fixed sides), so a study offers the
positions `allowed_positions` lists but segments=B where the layers differ in width (there it is depthwise in the
narrowest layers only; its nominal count is the depthwise end's). A model whose layers share no segment count but 1
has no spectrum to sweep: a usage error naming the narrowest layer, to leave out with --only.

A run's network is a `spectrum.ModelSpec`, `convert(load_model(ref, num_classes, in_channels), position, order,
activation, match, only, input_shape)`, built afresh (seeded) in the trial. The trials record the model's file,
function and the file's sha256 (`model_part`); a study resumed with a changed file, or with another network than
its trials trained, is refused (`check_stored`). config.json holds the conversion of every position and order the
study trains (`model_meta`), from which the page draws its table of each converted layer: the conv it replaced, the
block, and the MACs and params before and after.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

from common.cli import UsageError
from common.vocabulary import divisors, position_label

__all__ = ["ModelPlan", "check_flags", "check_stored", "model_config", "model_meta", "model_part", "model_plan"]

REFUSED = {  # flags of the harness's own networks: (flag, why a model loaded by reference has no use for it)
    "net": ("--net", "--net picks one of the harness's own families; --model is your network"),
    "width": ("--width", "the model keeps its own widths; its segment counts are the divisors of the largest count "
                         "every converted layer allows"),
    "depth": ("--depth", "the model keeps its own depth"),
    "budgets": ("--budgets", "at --match macs or params every position costs what the model costs: one budget, "
                             "as the model"),
}


def check_flags(args: dict) -> None:
    """The flags given (run_study's parsed arguments, those not given left out): a UsageError when --model meets a
    flag it refuses, --only comes without --model, or the model's file, module or function does not exist."""
    from spectrum.user_model import load_function

    if args.get("model") is None:
        if args.get("only") is not None:
            raise UsageError("argument --only: needs --model")
        return
    for name, (flag, why) in REFUSED.items():
        if args.get(name) is not None:
            raise UsageError(f"argument {flag}: not allowed with --model ({why})")
    if args.get("backend", "torch") != "torch":
        raise UsageError(f"argument --backend: {args['backend']} is not allowed with --model; expected torch (the "
                         f"converted blocks are torch convolutions)")
    try:
        load_function(args["model"])
    except UsageError as exc:
        raise UsageError(f"argument --model: {exc}") from None


@dataclass(frozen=True)
class ModelPlan:
    """Your network resolved once for a study: its source, the data's shape, the base width and every
    (order, nominal segment count)'s ModelSpec (nonlinearity none; a run sets its own), with the conversion rows
    the page shows and the unconverted model's counts."""

    ref: str
    source: dict  # file, function, sha256 (spectrum.user_model.model_source)
    num_classes: int
    input_shape: tuple[int, int, int]
    match: str
    only: str | None
    base_width: int
    original: dict  # params, macs, activations of the unconverted model (fvcore)
    specs: dict = field(repr=False, compare=False)  # (order, segments) -> ModelSpec
    rows: tuple = field(repr=False, compare=False)  # per order, position and converted layer

    @property
    def budget(self) -> float | None:
        """Every position's cost in the --match unit: the model's own (None: unmatched)."""
        return None if self.match == "none" else float(self.original[self.match])

    def spec(self, run):
        """The ModelSpec of a run (its order, nominal segment count and nonlinearity)."""
        return replace(self.specs[(run.order, run.segments)], activation=run.activation)

    def facts(self) -> dict:
        """What config.json keeps of the model for the page (torch-free, plain JSON)."""
        return {"ref": self.ref, "source": self.source, "num_classes": self.num_classes,
                "input_shape": list(self.input_shape), "match": self.match, "only": self.only,
                "base_width": self.base_width, "budget": self.budget, "original": self.original,
                "layers": list(self.rows)}


def _orders(config) -> tuple[str, ...]:
    """The orders the study's space trains."""
    from .spaces import get_space

    axes = get_space(config.space).axes_of(config)
    return tuple(dict.fromkeys(order for part in axes for order in part["order"](config)))


def model_plan(config, in_channels: int, image_size: int, num_classes: int) -> ModelPlan:
    """The config's model resolved for data of this shape (once per process and setting); a UsageError of one line
    naming --model or --only when it cannot be loaded, run or converted, or has no spectrum to sweep."""
    return _resolve(config.model, config.only, config.match, _orders(config), in_channels, image_size, num_classes)


def _flag_error(exc: UsageError) -> UsageError:
    text = str(exc)
    return UsageError(f"argument {'--only' if text.startswith('only=') else '--model'}: {text}")


@functools.lru_cache(maxsize=4)
def _resolve(ref: str, only, match: str, orders: tuple, in_channels: int, image_size: int,
             num_classes: int) -> ModelPlan:
    from spectrum import ModelSpec
    from spectrum.convert import common_segments, conv_calls, convert_report, convertible, layer_segments
    from spectrum.counting import count
    from spectrum.user_model import load_model, model_source

    shape = (in_channels, image_size, image_size)
    try:
        source = model_source(ref)
        model = load_model(ref, num_classes, in_channels)
        convs = convertible(model, only)
        conv_calls(model, [name for name, _ in convs], shape)
        counts = {order: common_segments(model, order, only, match) for order in orders}
        base = math.gcd(*(c[-1] for c in counts.values()))
        if base == 1:
            raise UsageError(_no_spectrum(convs, orders, counts))
        for order in orders:  # spatial first at match none a layer may refuse depthwise (C_out not a multiple)
            layer_segments(model, "depthwise", order, only, match)
    except UsageError as exc:
        raise _flag_error(exc) from None
    kernels = {tuple(conv.kernel_size) for _, conv in convs}
    (kernel,) = kernels if len(kernels) == 1 else ((None, None),)
    kernel_size = kernel[0] if kernel[0] == kernel[1] else None
    specs, rows = {}, []
    for order in orders:
        for segments in divisors(base):
            conversion = convert_report(model, position_label(segments, base), order, "none", match, only, shape)
            specs[(order, segments)] = ModelSpec.of(conversion, ref, source, num_classes, kernel_size)
            rows += [{"order": order, "segments": segments, **row} for row in conversion.rows()]
    original = count(model, shape).as_dict()
    return ModelPlan(ref, source, num_classes, shape, match, only, base, original, specs, tuple(rows))


def _no_spectrum(convs, orders, counts) -> str:
    """Why no segment count but 1 fits every converted layer: the narrowest layer in the first order that fails."""
    from spectrum.convert import ConvLayer

    order = next((o for o, c in counts.items() if c[-1] == 1), orders[0])
    layers = [ConvLayer.of(name, conv) for name, conv in convs]
    narrow = min(layers, key=lambda layer: layer.fixed(order))
    side = "input" if order == "spatial_first" else "output"
    others = sorted({layer.fixed(order) for layer in layers} - {narrow.fixed(order)})
    return (f"its converted layers share no segment count but 1 ({', '.join(orders)}): layer {narrow.name!r} "
            f"({narrow.describe()}) has {narrow.fixed(order)} {side} channels in {order} order, the others "
            f"{', '.join(map(str, others)) or 'the same'}; there is no spectrum to sweep: leave such layers out with "
            f"--only REGEX (a pattern of the conv names to convert)")


def model_config(config, in_channels: int, image_size: int, num_classes: int):
    """The config with the model's base width and its one budget (the model's own cost; none when unmatched)."""
    plan = model_plan(config, in_channels, image_size, num_classes)
    return replace(config, width=plan.base_width, budgets=None if plan.budget is None else (plan.budget,))


def model_part(spec) -> dict:
    """The record's model fields of a trial's network: the reference as its `net`, the file, function and the
    file's sha256 (nothing for the harness's own networks)."""
    from spectrum import ModelSpec

    if not isinstance(spec, ModelSpec):
        return {}
    return {"net": spec.ref, "model_file": spec.file, "model_function": spec.ref.rpartition(":")[2],
            "model_sha256": spec.sha256, "depth": None}


def model_meta(plan) -> dict:
    """config.json's `model_conversion` (the page's network table), for a study of your own network."""
    if plan.config.model is None:
        return {}
    shape = plan.shape
    return {"model_conversion": model_plan(plan.config, shape.in_channels, shape.image_size,
                                           shape.num_classes).facts()}


def check_stored(config, study) -> None:
    """A UsageError (one line) when the study's stored trials trained another network than this run would: a
    model file changed since (its sha256), another model or function, a --net study resumed with --model or the
    other way round."""
    from spectrum.user_model import model_source

    source = model_source(config.model) if config.model is not None else None
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if "net" not in attrs:
            continue  # no network built yet (a skipped duplicate, a queued run)
        stored = attrs.get("model_sha256")
        where = f"the study {config.name!r} in {config.storage_url}"
        if source is None:
            if stored is not None:
                raise UsageError(f"{where} holds trials of --model {attrs['net']}; pass --model {attrs['net']} to "
                                 f"resume it, or use another --out or --study-name")
            continue
        if stored is None or attrs["net"] != config.model:
            what = f"--net {attrs['net']}" if stored is None else f"--model {attrs['net']}"
            raise UsageError(f"argument --model: {where} holds trials of {what}, not of {config.model}; use another "
                             f"--out or --study-name")
        if stored != source["sha256"]:
            raise UsageError(f"argument --model: {source['file']} changed since the study's trials were trained "
                             f"from it (sha256 {stored[:12]}... then, {source['sha256'][:12]}... now); restore it, or "
                             f"start a new study with another --out or --study-name")
