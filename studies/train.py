"""A short, seeded training run: AdamW with a cosine schedule, validation accuracy after every epoch.

On a GPU it trains in bf16 autocast with channels_last; on a CPU in fp32, deterministic for a seed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from .data import Dataset


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial is stored as FAIL with this reason."""


@dataclass(frozen=True)
class TrainResult:
    accuracy_per_epoch: tuple[float, ...]
    train_time_s: float
    eval_time_s: float

    @property
    def accuracy(self) -> float:
        return self.accuracy_per_epoch[-1]


def _on_device(model: nn.Module, device: torch.device) -> nn.Module:
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, data: Dataset, device: torch.device, images: int = 1024,
                       batch_size: int = 256) -> None:
    """Exact BatchNorm statistics of the current weights over `images` training images ("precise BN",
    as pycls does): after a few hundred steps the running averages still lag the weights, and evaluation
    with lagging statistics can sit at chance while the network is already good."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the batches below
    model.train()
    for start in range(0, min(images, len(data.train_y)), batch_size):
        with _autocast(device):
            model(data.train_x[start:start + batch_size].to(device))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, device: torch.device, batch_size: int = 500) -> float:
    """Top-1 accuracy on the validation split."""
    model.eval()
    correct = 0
    for start in range(0, len(data.val_y), batch_size):
        x = data.val_x[start:start + batch_size].to(device)
        with _autocast(device):
            logits = model(x)
        correct += (logits.argmax(1).cpu() == data.val_y[start:start + batch_size]).sum().item()
    return correct / len(data.val_y)


def fit(model: nn.Module, data: Dataset, *, epochs: int, batch_size: int, seed: int, device: torch.device,
        lr: float = 3e-3, weight_decay: float = 5e-4, on_epoch=None) -> TrainResult:
    """Train `model` in place; `on_epoch(epoch, accuracy)` is called after each validation pass."""
    torch.manual_seed(seed)
    if device.type == "cpu":
        # subnormal floats (tiny gradients and AdamW moments) run orders of magnitude slower on x86 CPUs
        torch.set_flush_denormal(True)
    model = _on_device(model, device)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(data.train_y) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    accuracies, train_time, eval_time = [], 0.0, 0.0
    for epoch in range(epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(data.train_y), generator=generator)
        for step in range(steps_per_epoch):
            idx = order[step * batch_size:(step + 1) * batch_size]
            x, y = data.train_x[idx].to(device, non_blocking=True), data.train_y[idx].to(device, non_blocking=True)
            with _autocast(device):
                loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_time += time.perf_counter() - started
        started = time.perf_counter()
        recompute_bn_stats(model, data, device)
        accuracies.append(evaluate(model, data, device))
        eval_time += time.perf_counter() - started
        if on_epoch is not None:
            on_epoch(epoch + 1, accuracies[-1])
    return TrainResult(tuple(accuracies), train_time, eval_time)
