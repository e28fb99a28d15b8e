"""What the kernel tests share: the Triton interpreter on a CPU (TRITON_INTERPRET=1, set here before the
kernels are first used; slow, so shapes are tiny), random cases over every (channels, groups) pair, and
the float64 F.conv2d reference they are checked against. Errors are relative norms computed in float64
from the same (possibly low-precision) inputs, never on zero tensors. Import it before `kernels` is used.
"""

import os

import torch

if not torch.cuda.is_available():
    # must precede the first kernel use: Triton chooses interpreter vs compiler at that moment
    os.environ.setdefault("TRITON_INTERPRET", "1")
# GPU tests check correctness, not speed: one config per kernel instead of autotuning every random
# shape (test_every_autotune_config_gpu checks each config explicitly)
os.environ.setdefault("KERNELS_AUTOTUNE", "0")

import random  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kernels  # noqa: E402
from common.vocabulary import divisors  # noqa: E402
from kernels import algorithms, grouped_conv as gc  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

cpu_triton = pytest.mark.skipif(
    not kernels.triton_available("cpu"),
    reason="CPU Triton tests need the interpreter (TRITON_INTERPRET=1); on a CUDA machine the gpu tests run instead",
)
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")

TOL = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 2e-2}


def rel_err(out, ref):
    ref = ref.double()
    nrm = ref.norm().item()
    assert nrm > 0, "reference is all zeros: the comparison would be meaningless"
    return ((out.double() - ref).norm() / nrm).item()


# --------------------------------------------------------------------------------------------
# random shapes: every (channels, groups) pair with channels 1..16, groups over all divisors
# --------------------------------------------------------------------------------------------
def make_case(rng, c, g, dtype=torch.float32, algo="auto"):
    # out channels per group: as many as in (the spectrum's C -> C case) or a random multiplier
    oc = g * ((c // g) if rng.random() < 0.5 else rng.randint(1, max(1, 16 // g)))
    k = rng.choice([1, 3, 5])
    s = rng.choice([1, 2])
    p = rng.choice([0, 1, 2])
    h = rng.randint(max(3, k - 2 * p), 9)
    w = rng.randint(max(3, k - 2 * p), 9)
    return dict(n=rng.randint(1, 3), c=c, oc=oc, g=g, k=k, s=s, p=p, h=h, w=w,
                cl=rng.random() < 0.5, bias=rng.random() < 0.6, dtype=dtype, algo=algo)


def case_id(cs):
    dt = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}[cs["dtype"]]
    return (f"n{cs['n']}c{cs['c']}oc{cs['oc']}g{cs['g']}k{cs['k']}s{cs['s']}p{cs['p']}"
            f"_{cs['h']}x{cs['w']}_{'cl' if cs['cl'] else 'nchw'}_{'b' if cs['bias'] else 'nob'}_{dt}_{cs['algo']}")


def other_family(cg):
    """A kernel family (of ``algorithms.TABLE``) that "auto" does not pick at group width ``cg``."""
    auto = algorithms.pick("auto", cg).family
    return next(f for f in algorithms.FAMILIES if f != auto)


def _cases():
    rng = random.Random(20240607)
    pairs = [(c, g) for c in range(1, 17) for g in divisors(c)]  # 50 pairs
    cases = []
    # every pair through the public op (auto dispatch, autograd) ...
    for c, g in pairs:
        cases.append(make_case(rng, c, g))
    # ... and every pair again with the other family forced (launchers called directly):
    # the implicit GEMM where auto picks the direct kernel (C/g <= 8) and vice versa
    for c, g in pairs:
        cases.append(make_case(rng, c, g, algo=other_family(c // g)))
    # the rows auto reaches only beyond these pairs (gemm_window, from C/g 32), forced on a spread
    for row in algorithms.TABLE:
        if row.min_cg > max(c // g for c, g in pairs):
            for c, g in pairs[1::4]:
                cases.append(make_case(rng, c, g, algo=row.name))
    # low precision: a spread of pairs, auto and every family
    algos = ("auto", *algorithms.FAMILIES)
    for i, (c, g) in enumerate(pairs[::3]):
        cases.append(make_case(rng, c, g, dtype=(torch.float16, torch.bfloat16)[i % 2],
                               algo=algos[i % len(algos)]))
    # wider channels: several channel tiles, groups straddling tiles, the window-outer order in auto
    wide = [
        (1, 24, 48, 24, 3, 2, 1, 6, 7, True, True, "auto"),  # depthwise x2 multiplier, direct
        (2, 32, 32, 8, 3, 1, 1, 5, 5, False, False, "auto"),  # C/g 4, direct
        (2, 32, 32, 8, 3, 1, 1, 5, 5, True, True, "gemm"),  # C/g 4 packed GEMM, 4 channel tiles
        (2, 36, 24, 12, 3, 2, 1, 5, 4, True, False, "gemm"),  # OCG 2 vs tile 8: groups straddle tiles
        (1, 64, 64, 2, 3, 1, 1, 4, 4, True, True, "auto"),  # C/g 32: window-outer GEMM
        (2, 40, 24, 1, 1, 2, 0, 5, 5, False, True, "auto"),  # dense 1x1 stride 2, window-outer
        (2, 48, 24, 3, 3, 2, 1, 5, 6, True, False, "auto"),  # C/g 16: flattened GEMM
        (1, 32, 32, 32, 5, 1, 2, 5, 5, False, True, "auto"),  # depthwise 5x5
    ]
    for n, c, oc, g, k, s, p, h, w, cl, bias, algo in wide:
        cases.append(dict(n=n, c=c, oc=oc, g=g, k=k, s=s, p=p, h=h, w=w, cl=cl, bias=bias,
                          dtype=torch.float32, algo=algo))
    return cases


CASES = _cases()


def make_tensors(cs, device="cpu"):
    gen = torch.Generator().manual_seed(zlib.crc32(case_id(cs).encode()))
    dt = cs["dtype"]
    x = torch.randn(cs["n"], cs["c"], cs["h"], cs["w"], generator=gen).to(dt)
    wt = torch.randn(cs["oc"], cs["c"] // cs["g"], cs["k"], cs["k"], generator=gen).to(dt)
    b = torch.randn(cs["oc"], generator=gen).to(dt) if cs["bias"] else None
    x, wt = x.to(device), wt.to(device)
    b = b.to(device) if b is not None else None
    if cs["cl"]:
        x = x.to(memory_format=torch.channels_last)
    return x, wt, b


def reference(x, wt, b, cs, dy):
    """float64 F.conv2d and its gradients from the same inputs."""
    xd = x.detach().double().requires_grad_()
    wd = wt.detach().double().requires_grad_()
    bd = b.detach().double().requires_grad_() if b is not None else None
    y = F.conv2d(xd, wd, bd, cs["s"], cs["p"], 1, cs["g"])
    y.backward(dy.double())
    return y.detach(), xd.grad, wd.grad, (bd.grad if bd is not None else None)


def check_case(cs, device="cpu"):
    x, wt, b = make_tensors(cs, device)
    s, p, g = cs["s"], cs["p"], cs["g"]
    oh = (cs["h"] + 2 * p - cs["k"]) // s + 1
    ow = (cs["w"] + 2 * p - cs["k"]) // s + 1
    gen = torch.Generator().manual_seed(7)
    dy = torch.randn(cs["n"], cs["oc"], oh, ow, generator=gen).to(cs["dtype"]).to(device)
    y_ref, dx_ref, dw_ref, db_ref = reference(x, wt, b, cs, dy)
    tol = TOL[cs["dtype"]]
    if cs["algo"] == "auto":  # public op + autograd
        xr = x.detach().requires_grad_()
        wr = wt.detach().requires_grad_()
        br = b.detach().requires_grad_() if b is not None else None
        y = kernels.grouped_conv2d(xr, wr, br, stride=s, padding=p, groups=g)
        y.backward(dy)
        dx, dw, db = xr.grad, wr.grad, (br.grad if br is not None else None)
    else:  # one algorithm forced, launchers directly
        st, pd = [s, s], [p, p]
        y = gc.conv_forward(x, wt, b, st, pd, g, algo=cs["algo"])
        dx = gc.conv_grad_input(dy, wt, x, st, pd, g, algo=cs["algo"])
        dw, db = gc.conv_grad_weight(dy, x, tuple(wt.shape), st, pd, g, b is not None, algo=cs["algo"])
    assert y.shape == y_ref.shape and y.dtype == x.dtype
    errs = {"y": rel_err(y, y_ref), "dx": rel_err(dx, dx_ref), "dw": rel_err(dw, dw_ref)}
    if b is not None:
        errs["db"] = rel_err(db, db_ref)
    bad = {k: v for k, v in errs.items() if not v < tol}
    assert not bad, f"relative errors over {tol}: {bad}"
    # output (and grad_input) in the input's memory format
    if cs["cl"] and cs["c"] > 1 and cs["h"] * cs["w"] > 1 and y.shape[1] > 1 and y.shape[2] * y.shape[3] > 1:
        assert y.is_contiguous(memory_format=torch.channels_last)
    if not cs["cl"]:
        assert y.is_contiguous()
    fmt = torch.channels_last if cs["cl"] else torch.contiguous_format
    assert dx.is_contiguous(memory_format=fmt)
