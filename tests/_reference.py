"""Independent references for the tests: MACs counted from the shapes torch itself produces."""
import torch
from torch import nn


def hooked_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Conv and linear multiply-adds of one forward of `x` (batch 1), read from real output shapes."""
    total = 0

    def conv_hook(mod, inp, out):
        nonlocal total
        kh, kw = mod.kernel_size
        total += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * kh * kw

    def linear_hook(mod, inp, out):
        nonlocal total
        total += out.numel() // out.shape[0] * mod.in_features

    handles = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return total


def trainable_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
