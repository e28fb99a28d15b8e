"""Measuring: the latency of a forward or a training step (`latency`), on the GPU or the CPU.

Timing works on a deep copy of the model, so the caller's module keeps its mode, parameters and device. Every
measurement carries the environment it was taken in (`spectrum.devices.environment`).
"""
from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from kernels.timer import measure

from .counting import MEMORY_FORMATS, first_tensor
from .devices import check_choice, check_input_shape, check_positive_int, device_label, environment, resolve_device

DTYPES = ("fp32", "bf16")
MODES = ("forward", "train_step")


def check_run(batch_size, dtype, memory_format, mode="train_step") -> None:
    check_positive_int("batch_size", batch_size)
    check_choice("dtype", dtype, DTYPES)
    check_choice("memory_format", memory_format, MEMORY_FORMATS)
    check_choice("mode", mode, MODES)


def make_step(model: nn.Module, input_shape, batch_size: int, device: torch.device, dtype: str,
              memory_format: str, mode: str):
    """A callable running one forward (eval, no grad) or one training step (train mode; cross-entropy on fixed
    random labels; backward; SGD with momentum 0.9 step) of a private copy of `model`, with its input on `device`."""
    fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    net = copy.deepcopy(model).to(device)
    net = net.to(memory_format=fmt)
    ref = first_tensor(net)
    x_dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32  # autocast does bf16
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *input_shape), generator=generator).to(device, x_dtype).contiguous(memory_format=fmt)

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")

    if mode == "forward":
        net.eval()

        def forward():
            with torch.no_grad(), autocast():
                return net(x)

        return forward

    net.train()
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    labels = {}

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            out = net(x)
            if out.dim() == 2:
                if "y" not in labels:
                    labels["y"] = torch.randint(0, out.shape[1], (out.shape[0],), generator=generator).to(device)
                loss = nn.functional.cross_entropy(out.float(), labels["y"])
            else:
                loss = out.float().square().mean()
        loss.backward()
        optimizer.step()

    return train_step


@contextlib.contextmanager
def cudnn_benchmark(device: torch.device):
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


@contextlib.contextmanager
def torch_threads(threads):
    """torch's CPU thread count set to `threads` for the duration (None: left as it is), restored after."""
    if threads is None:
        yield
        return
    check_positive_int("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency(model: nn.Module, input_shape, *, batch_size: int = 64, device="cpu", dtype: str = "fp32",
            memory_format: str = "nchw", mode: str = "forward", min_run_time: float = 0.3,
            threads: int | None = None) -> dict:
    """Median and spread (IQR) in ms of a forward (eval, no grad) or a full training step (forward, cross-entropy,
    backward, SGD step) at `batch_size`, after warm-up, on a deep copy of `model` (the caller's module is untouched).

    Timed by `kernels.timer.measure`: on a GPU triton's do_bench (L2 flushed between repeats), cudnn.benchmark on;
    on a CPU torch.utils.benchmark with `threads` torch threads (None: the current count; a count given is set
    for the measurement and restored after).
    dtype "bf16" runs under torch.autocast(bfloat16); memory_format "channels_last" converts model and input, on
    the CPU as on the GPU, so a network is timed in the layout and thread count it trains in.
    """
    shape = check_input_shape(input_shape)
    check_run(batch_size, dtype, memory_format, mode)
    if threads is not None:
        check_positive_int("threads", threads)
    dev = resolve_device(device)
    with torch_threads(threads), cudnn_benchmark(dev):
        step = make_step(model, shape, batch_size, dev, dtype, memory_format, mode)
        timing = measure(step, dev, min_run_time=min_run_time)
        del step
        return {
            **timing.summary(),
            "device": device_label(dev), "batch_size": batch_size, "dtype": dtype, "memory_format": memory_format,
            "mode": mode, "threads": torch.get_num_threads(), "input_shape": list(shape),
            "environment": environment(dev),
        }
