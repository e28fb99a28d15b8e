"""Your own network as one point of a study: `ModelSpec`, the counterpart of a `NetworkSpec` for a model loaded by
reference (`FILE.py:FUNCTION` or `package.module:FUNCTION`, spectrum.user_model) and converted at a position
(spectrum.convert).

A ModelSpec is frozen and made of plain values, as a NetworkSpec is: a study pickles it to its workers, keys its
latency cache by its repr (the file's sha256 included, so a changed file is another network) and records what a
NetworkSpec records of it: `position`, `kernel_size`, `intermediate_norm`, `widths` (each converted layer's inner
width) and, through `spectrum.min_width`, its narrowest inner width. `build()` loads the model and converts it
(the caller seeds torch first, as for `build_network`); `spectrum.build_network` accepts either spec.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from common.cli import UsageError

from .convert import Conversion, convert_report
from .position import Position

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """The model FUNCTION of `ref` builds for `num_classes` classes and inputs of `input_shape` (C, H, W),
    converted at `position` in `order` with `activation` between the steps, each block sized by `match`; `only`
    selects the convs (None: every kxk conv). `widths`, `kernel_size` and `min_channels` describe the converted
    network (`of` reads them off a conversion)."""

    ref: str
    file: str
    sha256: str
    num_classes: int
    input_shape: tuple[int, int, int]
    position: Position
    order: str = "spatial_first"
    activation: str = "none"
    match: str = "macs"
    only: str | None = None
    widths: tuple[int, ...] = ()
    kernel_size: int | None = None  # the converted convs' kernel side when they share one square kernel

    intermediate_norm: ClassVar[bool] = False  # a converted block has no norm between its steps

    @classmethod
    def of(cls, conversion: Conversion, ref: str, source: dict, num_classes: int,
           kernel_size: int | None = None) -> ModelSpec:
        """The spec of a conversion made by `convert_report(load_model(ref, ...), ...)`; `source` is
        `user_model.model_source(ref)`."""
        widths = tuple(layer.inner_width for layer in conversion.layers)
        return cls(ref, source["file"], source["sha256"], num_classes, tuple(conversion.input_shape),
                   Position.parse(conversion.position), conversion.order, conversion.activation, conversion.match,
                   conversion.only, widths, kernel_size)

    @property
    def min_channels(self) -> int | None:
        """The narrowest converted layer's inner width."""
        return min(self.widths) if self.widths else None

    @property
    def name(self) -> str:
        return self.ref

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    @property
    def image_size(self) -> int:
        return self.input_shape[-1]

    def conversion(self) -> Conversion:
        """Load the model afresh and convert it (a `common.cli.UsageError`, one line, if either fails, or if the
        file is no longer the one the study recorded)."""
        from .user_model import load_model, model_source

        if model_source(self.ref)["sha256"] != self.sha256:
            raise UsageError(f"--model {self.ref}: {self.file} changed since the study started (its sha256 is "
                             f"recorded with every trial); rerun the study to train the new file")
        model = load_model(self.ref, self.num_classes, self.in_channels)
        return convert_report(model, self.position.label, self.order, self.activation, self.match, self.only,
                              self.input_shape)

    def build(self, backend: str = "torch") -> nn.Module:
        if backend != "torch":
            raise ValueError(f"backend={backend!r} is not allowed for your own network; expected torch (the "
                             f"converted blocks are torch convolutions)")
        return self.conversion().model
