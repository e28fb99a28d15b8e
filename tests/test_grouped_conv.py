"""kernels.grouped_conv2d against F.conv2d in float64: forward and all gradients, every group count,
every algorithm of the table, layouts, partial gradients, strided views (tests/_kernel_cases.py: the cases
and the reference). GPU tests are marked ``gpu`` and skip without CUDA.
"""
import random

import pytest
import torch
import torch.nn.functional as F

from tests._kernel_cases import (CASES, algorithms, case_id, check_case, cpu_triton, divisors, gc, kernels,
                                 make_case, needs_gpu, rel_err)


@cpu_triton
@pytest.mark.parametrize("cs", CASES, ids=[case_id(c) for c in CASES])
def test_against_conv2d_cpu(cs):
    check_case(cs)


def test_cases_cover_every_divisor():
    seen = {(cs["c"], cs["g"]) for cs in CASES if cs["c"] <= 16}
    assert seen == {(c, g) for c in range(1, 17) for g in divisors(c)}
    assert {cs["k"] for cs in CASES} == {1, 3, 5}
    assert {cs["s"] for cs in CASES} == {1, 2} and {cs["p"] for cs in CASES} == {0, 1, 2}
    # every row of the algorithm table runs, and "auto" and every family name are used
    assert {algorithms.pick(cs["algo"], cs["c"] // cs["g"]).name for cs in CASES} == set(algorithms.BY_NAME)
    assert {cs["algo"] for cs in CASES} >= {"auto", *algorithms.FAMILIES}


@cpu_triton
@pytest.mark.parametrize("cg", [1, 4, 12])
def test_memory_format_follows_input(cg):
    w = torch.randn(12, cg, 3, 3)
    x = torch.randn(2, 12, 5, 6)
    y = kernels.grouped_conv2d(x, w, None, 1, 1, 12 // cg)
    assert y.is_contiguous() and not y.is_contiguous(memory_format=torch.channels_last)
    xc = x.to(memory_format=torch.channels_last)
    yc = kernels.grouped_conv2d(xc, w, None, 1, 1, 12 // cg)
    assert yc.is_contiguous(memory_format=torch.channels_last) and not yc.is_contiguous()
    assert rel_err(yc, F.conv2d(x.double(), w.double(), None, 1, 1, 1, 12 // cg)) < 1e-4


FORWARD_KERNELS = {row.family: row.forward_kernel for row in reversed(algorithms.TABLE)}


@cpu_triton
@pytest.mark.parametrize("family", list(FORWARD_KERNELS))
def test_channels_last_read_in_place(monkeypatch, family):
    """The kernel receives the caller's channels_last storage itself (no hidden .contiguous())."""
    gc._kernels()
    kern = algorithms.resolve(FORWARD_KERNELS[family])
    seen = []
    original = kern.run

    def spy(*args, **kwargs):
        seen.append((args[0].data_ptr(), tuple(args[0].stride())))
        return original(*args, **kwargs)

    monkeypatch.setattr(kern, "run", spy)
    x = torch.randn(2, 8, 5, 5).to(memory_format=torch.channels_last)
    w = torch.randn(8, 4, 3, 3)
    gc.conv_forward(x, w, None, [1, 1], [1, 1], 2, algo=family)
    assert seen == [(x.data_ptr(), tuple(x.stride()))]


@cpu_triton
def test_arbitrary_strided_views():
    base = torch.randn(2, 12, 9, 11)
    x = base[:, 1:9, 1:, ::2]  # neither NCHW- nor channels_last-contiguous
    w = torch.randn(8, 2, 3, 3)
    ref = F.conv2d(x.double(), w.double(), None, 1, 1, 1, 4)
    for algo in algorithms.FAMILIES:
        assert rel_err(gc.conv_forward(x, w, None, [1, 1], [1, 1], 4, algo), ref) < 1e-4
    # zero-stride grad_output (y.sum().backward()) and non-square stride/padding
    xr = x.detach().requires_grad_()
    wr = w.detach().requires_grad_()
    kernels.grouped_conv2d(xr, wr, None, (2, 1), (0, 2), 4).sum().backward()
    xd, wd = x.double().requires_grad_(), w.double().requires_grad_()
    F.conv2d(xd, wd, None, (2, 1), (0, 2), 1, 4).sum().backward()
    assert rel_err(xr.grad, xd.grad) < 1e-4 and rel_err(wr.grad, wd.grad) < 1e-4


@cpu_triton
@pytest.mark.parametrize("need", ["x", "w", "b"])
def test_partial_gradients(need):
    x = torch.randn(2, 6, 5, 5, requires_grad=need == "x")
    w = torch.randn(6, 3, 3, 3, requires_grad=need == "w")
    b = torch.randn(6, requires_grad=need == "b")
    y = kernels.grouped_conv2d(x, w, b, 2, 1, 2)
    y.backward(torch.ones_like(y) * 0.5)
    xd, wd, bd = (t.detach().double().requires_grad_(t.requires_grad) for t in (x, w, b))
    F.conv2d(xd, wd, bd, 2, 1, 1, 2).backward(torch.full(y.shape, 0.5, dtype=torch.float64))
    for t, r in ((x, xd), (w, wd), (b, bd)):
        if t.requires_grad:
            assert rel_err(t.grad, r.grad) < 1e-4
        else:
            assert t.grad is None


@cpu_triton
def test_in_place_weight_update_is_seen():
    """The re-laid weight is cached per tensor; an in-place update (optimizer step) must show."""
    w = torch.nn.Parameter(torch.randn(6, 3, 3, 3))
    x = torch.randn(1, 6, 5, 5)
    y1 = kernels.grouped_conv2d(x, w, None, 1, 1, 2).detach()
    with torch.no_grad():
        w.mul_(-2.0)
    y2 = kernels.grouped_conv2d(x, w, None, 1, 1, 2).detach()
    assert rel_err(y2, -2.0 * y1.double()) < 1e-6
    w.data = torch.randn(6, 3, 3, 3)
    assert rel_err(kernels.grouped_conv2d(x, w, None, 1, 1, 2), F.conv2d(x.double(), w.double(), None, 1, 1, 1, 2)) < 1e-4


def _gpu_cases():
    rng = random.Random(99)
    pairs = [(c, g) for c in range(1, 17) for g in divisors(c)]
    cases = [make_case(rng, c, g, algo=a) for c, g in pairs for a in algorithms.ALGORITHMS]
    cases += [make_case(rng, c, g, dtype=dt) for c, g in pairs[::2] for dt in (torch.float16, torch.bfloat16)]
    return cases


GPU_CASES = _gpu_cases()


@pytest.mark.parametrize("cs", GPU_CASES, ids=[case_id(c) for c in GPU_CASES])
@pytest.mark.gpu
@needs_gpu
def test_against_conv2d_gpu(cs, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # true fp32 for the 1e-4 bound
    check_case(cs, device="cuda")


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("groups", [1, 4, 28, 91, 182, 728])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_xception_middle_gpu(groups, dtype, monkeypatch):
    """Full-size middle-flow shape through the autotuned kernels, fwd and bwd (fp32 as TF32)."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    gen = torch.Generator(device="cuda").manual_seed(groups)
    x = torch.randn(8, 728, 19, 19, device="cuda", generator=gen).to(dtype).to(memory_format=torch.channels_last)
    w = (torch.randn(728, 728 // groups, 3, 3, device="cuda", generator=gen) / 10).to(dtype)
    xr, wr = x.detach().requires_grad_(), w.detach().requires_grad_()
    y = kernels.grouped_conv2d(xr, wr, None, 1, 1, groups)
    dy = torch.randn_like(y)
    y.backward(dy)
    xd, wd = x.double().requires_grad_(), w.double().requires_grad_()
    yd = F.conv2d(xd, wd, None, 1, 1, 1, groups)
    yd.backward(dy.double())
    tol = 2e-2 if dtype == torch.bfloat16 else 5e-3  # TF32: 10-bit mantissa products
    assert y.is_contiguous(memory_format=torch.channels_last)
    for a, r in ((y, yd), (xr.grad, xd.grad), (wr.grad, wd.grad)):
        assert rel_err(a, r) < tol


# (module, kernel, the table rows launching it), from the algorithm table
KERNEL_FILES = [(*ref.rsplit(".", 1), names) for ref, names in algorithms.kernels().items()]


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("module,name,algos", KERNEL_FILES, ids=[k[0] for k in KERNEL_FILES])
def test_every_autotune_config_gpu(module, name, algos, monkeypatch):
    """Each GPU config of each kernel, forced one at a time, against F.conv2d (fwd, dx, dw)."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    mod = gc._kernels()[module]
    kern = getattr(mod, name)
    shapes = [  # (c, oc, g): packed narrow groups, straddling groups, wide groups, depthwise x2
        (48, 48, 12), (36, 24, 12), (64, 64, 2), (32, 64, 32),
    ]
    failures = []
    for i, cfg in enumerate(mod.GPU_CONFIGS):
        monkeypatch.setattr(kern, "configs", [cfg])
        monkeypatch.setattr(kern, "cache", {})
        for c, oc, g in shapes:
            for dtype in (torch.float32, torch.bfloat16):
                for algo in algos:
                    cs = dict(n=2, c=c, oc=oc, g=g, k=3, s=2 if c == 36 else 1, p=1, h=9, w=10, cl=True,
                              bias=True, dtype=dtype, algo=algo)
                    try:
                        check_case(cs, device="cuda")
                    except AssertionError as e:
                        failures.append(f"config {i} {cfg} {case_id(cs)}: {str(e).splitlines()[0]}")
    assert not failures, "\n".join(failures[:10])
