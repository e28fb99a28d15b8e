"""kernels.grouped_conv2d's arguments: a wrong one is a ValueError (TypeError for a non-tensor) saying what
is allowed; on a CPU without the interpreter a RuntimeError saying how to get it."""
import os
import subprocess
import sys

import pytest
import torch

from tests._kernel_cases import REPO, kernels


BAD = [
    ("groups not dividing in_channels", dict(x=(1, 6, 5, 5), w=(6, 1, 3, 3), groups=4), "must divide"),
    ("groups not dividing out_channels", dict(x=(1, 6, 5, 5), w=(4, 2, 3, 3), groups=3), "must divide"),
    ("groups zero", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), groups=0), "positive int"),
    ("groups float", dict(x=(1, 6, 5, 5), w=(6, 3, 3, 3), groups=2.0), "positive int"),
    ("weight channels per group", dict(x=(1, 6, 5, 5), w=(6, 2, 3, 3), groups=2), "input channels per group"),
    ("x 3-D", dict(x=(6, 5, 5), w=(6, 6, 3, 3)), "x must be 4-D"),
    ("x 5-D", dict(x=(1, 1, 6, 5, 5), w=(6, 6, 3, 3)), "x must be 4-D"),
    ("weight 3-D", dict(x=(1, 6, 5, 5), w=(6, 6, 3)), "weight must be 4-D"),
    ("bias length", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), bias=(5,)), "bias must be"),
    ("bias 2-D", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), bias=(6, 1)), "bias must be"),
    ("weight dtype", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), wdtype=torch.float16), "must match"),
    ("bias dtype", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), bias=(6,), bdtype=torch.float64), "must match"),
    ("x dtype", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), xdtype=torch.float64, wdtype=torch.float64), "allowed"),
    ("int dtype", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), xdtype=torch.int32, wdtype=torch.int32), "allowed"),
    ("stride zero", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), stride=0), "stride must be positive"),
    ("stride negative pair", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), stride=(1, -1)), "stride must be positive"),
    ("stride triple", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), stride=(1, 1, 1)), "pair"),
    ("stride string", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), stride="1"), "pair"),
    ("padding negative", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), padding=-1), "padding must be non-negative"),
    ("padding same", dict(x=(1, 6, 5, 5), w=(6, 6, 3, 3), padding="same"), "padding must be"),
    ("kernel larger than input", dict(x=(1, 6, 2, 2), w=(6, 6, 3, 3)), "larger than the padded input"),
]


def _build(spec):
    x = torch.randn(spec["x"]).to(spec.get("xdtype", torch.float32))
    w = torch.randn(spec["w"]).to(spec.get("wdtype", torch.float32))
    b = torch.randn(spec["bias"]).to(spec.get("bdtype", torch.float32)) if "bias" in spec else None
    return x, w, b


@pytest.mark.parametrize("name,spec,match", BAD, ids=[b[0] for b in BAD])
def test_invalid_arguments_raise_value_error(name, spec, match):
    x, w, b = _build(spec)
    with pytest.raises(ValueError, match=match):
        kernels.grouped_conv2d(x, w, b, stride=spec.get("stride", 1), padding=spec.get("padding", 0),
                               groups=spec.get("groups", 1))


def test_groups_error_lists_allowed_values():
    with pytest.raises(ValueError, match=r"allowed groups: the common divisors \[1, 2, 3, 6\]"):
        kernels.grouped_conv2d(torch.randn(1, 6, 5, 5), torch.randn(6, 1, 3, 3), groups=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device for a cross-device pair")
def test_mismatched_devices_raise_value_error():
    with pytest.raises(ValueError, match="one device"):
        kernels.grouped_conv2d(torch.randn(1, 4, 5, 5), torch.randn(4, 4, 3, 3, device="cuda"))


def test_mismatched_devices_meta():
    """Device mismatch without a GPU: a 'meta' weight against a CPU input."""
    with pytest.raises(ValueError, match="one device"):
        kernels.grouped_conv2d(torch.randn(1, 4, 5, 5), torch.randn(4, 4, 3, 3, device="meta"))


def test_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        kernels.grouped_conv2d([[1.0]], torch.randn(4, 4, 3, 3))


def test_cpu_without_interpreter_raises_runtime_error():
    code = (
        "import torch, kernels\n"
        "print(kernels.triton_available('cpu'))\n"
        "try:\n"
        "    kernels.grouped_conv2d(torch.randn(1, 4, 5, 5), torch.randn(4, 1, 3, 3), groups=4)\n"
        "except RuntimeError as e:\n"
        "    print('RuntimeError:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "False"
    assert lines[1].startswith("RuntimeError:") and "TRITON_INTERPRET=1" in lines[1] and "CUDA" in lines[1]


def test_triton_available():
    assert kernels.triton_available("cpu") == (os.environ.get("TRITON_INTERPRET") == "1")
    assert kernels.triton_available("meta") is False
    if not torch.cuda.is_available():
        assert kernels.triton_available("cuda") is False
