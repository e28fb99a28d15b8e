"""A short, seeded training run: AdamW with a cosine schedule, validation accuracy after every epoch.

On a GPU it trains in bf16 autocast with channels_last; on a CPU in fp32 with channels_last too
(oneDNN's NHWC convolutions: 1.3-2.8x faster a step than NCHW at the default points, most at the
grouped middle of the spectrum; benchmarks/bench_train.py), deterministic for a seed.

The format a model trains in is `memory_format_for(device, model)`; the study times its latency
objective in the same format, and `TrainResult.memory_format` records it with the trial. On a CPU, fit
computes narrow grouped convolutions as fewer, wider block-diagonal groups where that measures faster
(studies/group_merge.py; `TrainResult.group_merge` records which): speed, not the function (bench_train.py
measures it, tests/test_group_merge.py checks it against torch's grouped conv). fit changes nothing
process-wide; a worker's process settings are studies/process.py's.
Evaluation runs under `torch.inference_mode`; the loss is checked for NaN/inf once per epoch (no host
sync per step on a GPU); AdamW is the fused implementation where torch has one for the device.

Numerics: a step equals the NCHW step to float rounding (loss 1e-7, gradients 1e-5 relative on random
data), but channels_last BatchNorm sums in a less precise order; on MNIST, where the stem's outputs
have a large mean, a forward value moves by 1e-4, a max-pool window then and again picks another
element, and a gradient moves by up to 1e-2. Trajectories part after a few AdamW steps (as they do
between AdamW's loop and fused forms in NCHW); accuracies over seeds are the same (tests/test_train.py
checks a tiny network against the NCHW path to the digit). docs/ARCHITECTURE.md lists what was measured
and not used (torch.compile, a channels_last dataset, a batch size per position).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import Dataset
from .group_merge import merge_grouped_convs, merge_label

CPU_MEMORY_FORMAT = "channels_last"  # measured faster than "nchw" at every default point (bench_train.py)
MEMORY_FORMATS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}
AUGMENT_PAD = 4  # random crops from the image padded by this many pixels (the CIFAR recipe)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial is stored as FAIL with this reason."""


@dataclass(frozen=True)
class TrainResult:
    accuracy_per_epoch: tuple[float, ...]
    train_time_s: float
    eval_time_s: float
    memory_format: str = "nchw"  # what the model trained and evaluated in: "nchw" or "channels_last"
    loss_per_epoch: tuple[float, ...] = ()  # mean training loss of each epoch
    group_merge: str = "none"  # grouped convs computed as fewer groups on a CPU (group_merge.merge_label)
    deterministic: bool = False  # trained under torch's deterministic algorithms (studies/reproducible.py)

    @property
    def accuracy(self) -> float:
        return self.accuracy_per_epoch[-1]


# ---------------------------------------------------------------- memory format

def _onednn_ic_block() -> int:
    """The channel block of oneDNN's x86 1x1 convolution kernels: 8 on AVX2, 16 from AVX-512 on."""
    return 8 if torch.backends.cpu.get_cpu_capability() == "AVX2" else 16  # 16: the safe side elsewhere


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def onednn_unsafe_convs(model: nn.Module) -> list[str]:
    """Names of the convolutions that oneDNN cannot train in channels_last on a CPU: a 1x1 convolution
    with a stride (or padding) and fewer input channels a group than its channel block. Its weight
    gradient writes past a workspace (oneDNN issue #6035, open): heap corruption, a hang, or wrong
    gradients, seen here as `free(): invalid next size` with torch 2.13 on AVX2 (16 -> 6 -> 7 channels,
    the shortcut of a narrow module). NCHW takes another kernel and is safe."""
    block = _onednn_ic_block()
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (1, 1)
            and (tuple(m.stride) != (1, 1) or _pair(m.padding) != (0, 0))
            and m.in_channels // m.groups < block]


def memory_format_for(device, model: nn.Module | None = None) -> str:
    """The memory format `fit` trains `model` in on `device` ("nchw" or "channels_last"): channels_last on
    a GPU and on a CPU, except a CPU model with a convolution oneDNN would mis-train in it (see
    `onednn_unsafe_convs`), which trains in NCHW. Time the latency objective in the same format."""
    device = torch.device(device)
    if device.type == "cuda":
        return "channels_last"
    if device.type != "cpu":
        return "nchw"
    if model is not None and onednn_unsafe_convs(model):
        return "nchw"
    return CPU_MEMORY_FORMAT


def _format(memory_format: str) -> torch.memory_format:
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"memory_format={memory_format!r} is not allowed; expected one of {', '.join(MEMORY_FORMATS)}")
    return MEMORY_FORMATS[memory_format]


def _inputs(x: torch.Tensor, device: torch.device, fmt: torch.memory_format) -> torch.Tensor:
    """A batch on `device` in `fmt` (a no-op for one-channel images, whose two layouts are the same)."""
    return x.to(device, non_blocking=True).contiguous(memory_format=fmt)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()  # fp32 on a CPU


WARMUP_FRACTION = 0.05  # CIFAR: the first 5% of the steps ramp the learning rate up linearly


def make_schedule(optimizer, total_steps: int, warmup: bool):
    """Cosine decay over the run; with `warmup` (CIFAR, augmented), a short linear ramp first."""
    steps = max(1, round(total_steps * WARMUP_FRACTION)) if warmup and total_steps > 1 else 0
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - steps))
    if not steps:
        return cosine
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / (steps + 1), total_iters=steps)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[steps])


def uses_group_merge(device) -> bool:
    """Whether grouped convolutions are merged where faster (`group_merge`): on a CPU, unless torch's
    deterministic algorithms are on (the merge is a timed choice, like cudnn.benchmark)."""
    return torch.device(device).type == "cpu" and not torch.are_deterministic_algorithms_enabled()


def make_optimizer(model: nn.Module, device: torch.device, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where torch has it for the device (CPU and CUDA): the same update to
    float rounding, 3-4x faster than the per-parameter loop (0.5 vs 1.9 ms a step on a 35-tensor net)."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device without a fused AdamW
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor,
               device: torch.device) -> torch.Tensor:
    """One forward, backward and optimizer step; the loss as a detached device tensor (no host sync)."""
    with _autocast(device):
        loss = loss_fn(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop (zero padding of AUGMENT_PAD, i.e. the mean of normalised data) and horizontal flip of
    each image, drawn from `generator`: one gather, whose result is channels_last."""
    n, _, h, w = x.shape
    p = AUGMENT_PAD
    padded = nn.functional.pad(x, (p, p, p, p))
    dy = torch.randint(0, 2 * p + 1, (n, 1), generator=generator)
    dx = torch.randint(0, 2 * p + 1, (n, 1), generator=generator)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    cols = torch.arange(w)
    rows = dy + torch.arange(h)  # n x h
    cols = dx + torch.where(flip, cols.flip(0), cols)  # n x w
    out = padded[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # n x h x w x c
    return out.permute(0, 3, 1, 2)


# ---------------------------------------------------------------- evaluation

@torch.inference_mode()
def recompute_bn_stats(model: nn.Module, data: Dataset, device: torch.device, images: int = 1024,
                       batch_size: int = 256, memory_format: str | None = None) -> None:
    """Exact BatchNorm statistics of the current weights over `images` training images ("precise BN",
    as pycls does): after a few hundred steps the running averages still lag the weights, and evaluation
    with lagging statistics can sit at chance while the network is already good."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    fmt = _format(memory_format or memory_format_for(device, model))
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the batches below
    model.train()
    for start in range(0, min(images, len(data.train_y)), batch_size):
        with _autocast(device):
            model(_inputs(data.train_x[start:start + batch_size], device, fmt))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum


@torch.inference_mode()
def correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch_size: int = 500,
            memory_format: str | None = None) -> torch.Tensor:
    """Per-image top-1 correctness (bool, in the split's order), in the memory format the model trains in."""
    device = torch.device(device)
    fmt = _format(memory_format or memory_format_for(device, model))
    model.eval()
    hits = []
    for start in range(0, len(y), batch_size):
        with _autocast(device):
            logits = model(_inputs(x[start:start + batch_size], device, fmt))
        hits.append(logits.argmax(1) == y[start:start + batch_size].to(device))
    return torch.cat(hits).cpu()


def evaluate(model: nn.Module, data: Dataset, device: torch.device, batch_size: int = 500,
             memory_format: str | None = None) -> float:
    """Top-1 accuracy on the validation split (`data.for_evaluation("test")` for the test split)."""
    return correct(model, data.val_x, data.val_y, device, batch_size, memory_format).float().mean().item()


def scored_on_test(model: nn.Module, data: Dataset, device: torch.device) -> dict:
    """The test split's part of a trial record: accuracy, size, and per-image correctness packed as hex."""
    hits = correct(model, data.test_x, data.test_y, device).numpy()
    return {"test_accuracy": float(hits.mean()), "test_size": int(hits.size),
            "test_correct": np.packbits(hits).tobytes().hex()}


# ---------------------------------------------------------------- training

def fit(model: nn.Module, data: Dataset, *, epochs: int, batch_size: int, seed: int, device: torch.device,
        lr: float = 3e-3, weight_decay: float = 5e-4, on_epoch=None, memory_format: str | None = None,
        merge_groups: bool | None = None) -> TrainResult:
    """Train `model` in place (and leave it in the memory format it trained in); `on_epoch(epoch, accuracy)`
    is called after each validation pass. `memory_format` None: `memory_format_for(device, model)`.
    `merge_groups` (None: on a CPU unless torch's deterministic algorithms are on): compute grouped
    convolutions as fewer groups where that measures faster (`group_merge`; a timed choice, like
    cudnn.benchmark, so off where determinism is asked for)."""
    device = torch.device(device)
    memory_format = memory_format or memory_format_for(device, model)
    fmt = _format(memory_format)
    torch.manual_seed(seed)
    model = model.to(device).to(memory_format=fmt)
    if merge_groups is None:
        merge_groups = uses_group_merge(device)
    merged = merge_grouped_convs(model, _inputs(data.train_x[:batch_size], device, fmt)) if merge_groups else {}
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(data.train_y) / batch_size)
    optimizer = make_optimizer(model, device, lr, weight_decay)
    schedule = make_schedule(optimizer, epochs * steps_per_epoch, warmup=data.augment)
    loss_fn = nn.CrossEntropyLoss()
    accuracies, mean_losses, train_time, eval_time = [], [], 0.0, 0.0
    for epoch in range(epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(data.train_y), generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * batch_size:(step + 1) * batch_size]
            x = data.train_x[idx]
            if getattr(data, "augment", False):
                x = augment(x, generator)
            x, y = _inputs(x, device, fmt), data.train_y[idx].to(device, non_blocking=True)
            losses.append(train_step(model, optimizer, loss_fn, x, y, device))
            schedule.step()
        losses = torch.stack(losses).float().cpu()  # the epoch's one host sync
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            step = int(bad[0])
            raise TrainingDiverged(f"loss became {losses[step].item()} at epoch {epoch + 1}, step {step + 1}")
        mean_losses.append(losses.mean().item())
        train_time += time.perf_counter() - started
        started = time.perf_counter()
        recompute_bn_stats(model, data, device, memory_format=memory_format)
        accuracies.append(evaluate(model, data, device, memory_format=memory_format))
        eval_time += time.perf_counter() - started
        if on_epoch is not None:
            on_epoch(epoch + 1, accuracies[-1])
    return TrainResult(tuple(accuracies), train_time, eval_time, memory_format, tuple(mean_losses),
                       merge_label(merged, model), torch.are_deterministic_algorithms_enabled())
