"""kernels.grouped_conv2d against F.conv2d: forward and all gradients, every group count.

CPU tests run the Triton kernels through the interpreter (TRITON_INTERPRET=1, set here before the
kernels are first used; slow, so shapes are tiny). Errors are relative norms computed in float64
from the same (possibly low-precision) inputs, never on zero tensors. GPU tests are marked ``gpu``
and skip without CUDA.
"""

import os

import torch

if not torch.cuda.is_available():
    # must precede the first kernel use: Triton chooses interpreter vs compiler at that moment
    os.environ.setdefault("TRITON_INTERPRET", "1")
# GPU tests check correctness, not speed: one config per kernel instead of autotuning every random
# shape (test_every_autotune_config_gpu checks each config explicitly)
os.environ.setdefault("KERNELS_AUTOTUNE", "0")

import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kernels  # noqa: E402
from kernels import algorithms, bench, bench_goals, grouped_conv as gc, policy  # noqa: E402
from kernels.environment import environment  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

cpu_triton = pytest.mark.skipif(
    not kernels.triton_available("cpu"),
    reason="CPU Triton tests need the interpreter (TRITON_INTERPRET=1); on a CUDA machine the gpu tests run instead",
)

TOL = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 2e-2}


def rel_err(out, ref):
    ref = ref.double()
    nrm = ref.norm().item()
    assert nrm > 0, "reference is all zeros: the comparison would be meaningless"
    return ((out.double() - ref).norm() / nrm).item()


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


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


def test_algorithm_table():
    """Under "auto" every group width has exactly one row; names, families and launchers resolve."""
    for cg in range(1, 200):
        assert sum(row.serves(cg) for row in algorithms.TABLE) == 1, cg
        assert algorithms.pick("auto", cg).serves(cg)
    assert algorithms.pick("auto", gc.DIRECT_MAX_CG).name == "direct"
    assert algorithms.pick("auto", gc.DIRECT_MAX_CG + 1).family == "gemm"
    assert algorithms.pick("gemm", 1).name == "gemm_flat" and algorithms.pick("gemm", 64).name == "gemm_window"
    assert algorithms.pick("direct", 64).name == "direct"
    assert gc.ALGORITHMS == ("auto", "direct", "gemm", "gemm_flat", "gemm_window")
    with pytest.raises(ValueError, match="algo must be one of"):
        algorithms.pick("winograd", 4)
    assert set(algorithms.modules()) == {"direct_depthwise", "direct_depthwise_wgrad", "implicit_gemm",
                                         "implicit_gemm_wgrad"}
    for row in algorithms.TABLE:
        for ref in (row.forward, row.weight_grad):
            assert callable(algorithms.resolve(ref))


# --------------------------------------------------------------------------------------------
# layouts, partial gradients, strided views
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# custom op: tracing sees one node; registration is consistent
# --------------------------------------------------------------------------------------------
class _TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(8, 2, 3, 3))
        self.b1 = torch.nn.Parameter(torch.randn(8))
        self.w2 = torch.nn.Parameter(torch.randn(8, 1, 3, 3))

    def forward(self, x):
        y = kernels.grouped_conv2d(x, self.w1, self.b1, stride=(2, 1), padding=1, groups=2)
        return kernels.grouped_conv2d(torch.relu(y), self.w2, None, stride=1, padding=(0, 1), groups=8)


@cpu_triton
def test_jit_trace_records_one_custom_node():
    assert kernels.GROUPED_CONV_OP == "inception_spectrum::grouped_conv2d"
    net = _TinyNet()
    x = torch.randn(1, 4, 6, 6)
    traced = torch.jit.trace(net, x)
    kinds = [n.kind() for n in traced.graph.nodes()]
    convs = [n for n in traced.graph.nodes() if n.kind() == kernels.GROUPED_CONV_OP]
    assert len(convs) == 2
    assert not any("triton" in k for k in kinds) and "aten::_convolution" not in kinds

    def value(v):
        node = v.node()
        if node.kind() == "prim::Constant":
            return node.output().toIValue()
        if node.kind() == "prim::ListConstruct":
            return [value(i) for i in node.inputs()]
        return None

    first, second = convs
    ins = list(first.inputs())
    assert len(ins) == 6  # (x, weight, bias-or-None, stride, padding, groups)
    assert ins[0].type().sizes() == [1, 4, 6, 6]
    assert ins[1].type().kind() == "TensorType"
    assert str(ins[2].type()) != "NoneType"
    assert value(ins[3]) == [2, 1] and value(ins[4]) == [1, 1] and value(ins[5]) == 2
    assert first.output().type().sizes() == [1, 8, 3, 6]
    ins2 = list(second.inputs())
    assert str(ins2[2].type()) == "NoneType"
    assert value(ins2[3]) == [1, 1] and value(ins2[4]) == [0, 1] and value(ins2[5]) == 8
    # the traced module still computes the convolution
    assert rel_err(traced(x), net(x)) < 1e-6


@cpu_triton
def test_opcheck():
    args = (torch.randn(2, 4, 5, 5, requires_grad=True), torch.randn(4, 2, 3, 3, requires_grad=True),
            torch.randn(4, requires_grad=True), [2, 1], [1, 0], 2)
    result = torch.library.opcheck(torch.ops.inception_spectrum.grouped_conv2d.default, args)
    assert all(v == "SUCCESS" for v in result.values()), result


def test_triton_available():
    assert kernels.triton_available("cpu") == (os.environ.get("TRITON_INTERPRET") == "1")
    assert kernels.triton_available("meta") is False
    if not torch.cuda.is_available():
        assert kernels.triton_available("cuda") is False


# --------------------------------------------------------------------------------------------
# backend="auto" policy
# --------------------------------------------------------------------------------------------
def test_prefer_triton_false_on_cpu():
    assert kernels.prefer_triton(64, 64, 3, 32, 32, torch.float32, "cpu") is False
    assert kernels.prefer_triton(728, 1, 3, 19, 19, torch.bfloat16, torch.device("cpu")) is False


def test_policy_decides_from_measured_rows(tmp_path):
    def row(c, g, hw, speedup, pass_="fwdbwd", prec="bf16"):
        return dict(backend="triton", channels=c, groups=g, group_width=c // g, kernel_size=3, height=hw,
                    width=hw, precision=prec, dtype="bfloat16", speedup_vs_cudnn=speedup, ms=1.0,
                    error=None, **{"pass": pass_})

    rows = [row(728, 728, 19, 1.4), row(728, 182, 19, 2.0), row(728, 91, 19, 0.8),
            row(128, 32, 32, 0.7), row(128, 32, 8, 1.3), row(728, 1, 19, 0.9), row(728, 728, 19, 0.5, "fwd")]
    (tmp_path / "kernels_gpu_20240101.json").write_text(
        json.dumps(dict(environment=dict(device_name="GPU X"), rows=rows)))
    loaded = policy.load_rows(tmp_path)
    assert len(loaded) == len(rows) and loaded[0]["device_name"] == "GPU X"

    def decide(c, g, hw, dtype=torch.bfloat16, dev="GPU X", k=3):
        return policy.decide(loaded, dev, c, g, k, hw, hw, dtype)

    assert decide(256, 256, 16) is True  # depthwise class: fwd+bwd rows win over the fwd row
    assert decide(728, 182, 19) is True  # C/g = 4 -> class cg4-7
    assert decide(728, 91, 19) is False  # C/g = 8 -> class cg8-15, measured slower
    assert decide(96, 24, 28) is False and decide(96, 24, 10) is True  # nearest spatial size decides
    assert decide(728, 1, 19) is False  # dense, measured slower
    assert decide(728, 728, 19, dev="GPU Y") is False  # other GPU: no evidence
    assert decide(728, 728, 19, dtype=torch.float16) is False  # no fp16 rows
    assert decide(728, 728, 19, k=5) is False  # no 5x5 rows
    assert policy.width_class(728, 1) == "dense" and policy.width_class(64, 64) == "depthwise"
    assert policy.width_class(64, 8) == "cg8-15"


# --------------------------------------------------------------------------------------------
# benchmark: CPU smoke test, the goal arithmetic, the environment record
# --------------------------------------------------------------------------------------------
def test_git_dirty_counts_code_changes_not_result_files(tmp_path):
    """A benchmark that rewrites its own results file must not mark the next measurement as of a dirty tree."""
    import subprocess

    from kernels.environment import git_state

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "a.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "one")
    (tmp_path / "benchmarks" / "results" / "a.json").write_text('{"ms": 1}')
    commit, dirty = git_state(str(tmp_path / "benchmarks"))
    assert len(commit) == 40 and dirty is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(str(tmp_path)) == (commit, True)


def test_environment_record():
    env = environment(torch.device("cpu"), argv=["python -m kernels.bench", "--quick"])
    assert env == {**environment("cpu"), "date": env["date"], "command": "python -m kernels.bench --quick"}
    for key in ("device", "device_name", "device_type", "cpu", "torch", "triton", "fvcore", "cuda", "cudnn",
                "torch_threads", "python", "platform", "git_commit", "git_dirty", "date"):
        assert key in env
    assert env["device_type"] == "cpu" and env["torch"] == torch.__version__ and "command" not in environment()
    assert env["git_commit"] is None or len(env["git_commit"]) == 40
    assert env["date"][:4].isdigit() and env["date"][10] == "T"
    if torch.cuda.is_available():
        gpu = environment("cuda")
        assert gpu["device_name"] == torch.cuda.get_device_name(0) and gpu["sm_count"] > 0


def test_bench_without_gpu_exits_2_with_one_line():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env.pop("TRITON_INTERPRET", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "kernels.bench"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert lines == ["kernels.bench needs a CUDA GPU (none found)"]


def test_bench_shapes_and_costs():
    mid = bench.shape_list(["middle"], quick=False)
    assert sorted({s["groups"] for s in mid}) == divisors(728) and {s["batch"] for s in mid} == {32, 128}
    assert all(s["height"] == 19 and s["channels"] == 728 for s in mid)
    flops, nbytes = bench.conv_cost(32, 728, 728, 19, 19, 3, 2, "fwd")
    assert flops == 2 * 32 * 19 * 19 * 728 * 9
    assert nbytes == (2 * 32 * 728 * 19 * 19 + 728 * 9) * 2
    assert bench.conv_cost(32, 728, 1, 19, 19, 3, 2, "fwdbwd")[0] == 3 * 2 * 32 * 361 * 728 * 728 * 9


def test_bench_goal_checks():
    def row(g, ms, speed, roof=0.7, bw=0.85, pass_="fwdbwd", nchw=None):
        r = dict(suite="middle", batch=32, channels=728, height=19, width=19, groups=g, group_width=728 // g,
                 precision="bf16", memory_format="channels_last", backend="triton", ms=ms, error=None,
                 speedup_vs_cudnn=speed, roofline_fraction=roof, bandwidth_fraction=bw, **{"pass": pass_})
        if nchw:
            r["speedup_vs_cudnn_nchw"] = nchw
        return r

    rows = [row(1, 3.0, 1.0), row(2, 2.0, 0.95), row(4, 1.5, 0.92), row(14, 1.0, 1.6), row(28, 0.9, 1.7),
            row(182, 0.5, 2.0, roof=0.5), row(728, 0.6, 1.2, nchw=2.0, pass_="fwd"), row(728, 0.4, 1.1, nchw=1.6)]
    checks = {c["name"].split(" (")[0]: c for c in bench_goals.goal_checks(rows)}
    inter = checks["intermediate C/g 4..64 fwd+bwd speedup vs cuDNN"]
    assert inter["status"] == "PASS" and inter["rows"] == 3  # g=14 (52), 28 (26), 182 (4)
    assert checks["dense g<=4 speedup vs cuDNN"]["status"] == "PASS"
    assert checks["depthwise speedup vs torch NCHW depthwise"]["status"] == "PASS"
    cliff = checks["no cliff: time non-increasing in g"]
    assert cliff["status"] == "PASS"  # fwd and fwdbwd series apart; 0.5 -> 0.4 non-increasing
    rows.append(row(364, 0.9, 1.0))  # 182 -> 364 gets slower: a cliff
    checks = {c["name"].split(" (")[0]: c for c in bench_goals.goal_checks(rows)}
    assert checks["no cliff: time non-increasing in g"]["status"] == "MISS"
    lines = bench_goals.format_checks(bench_goals.goal_checks(rows))
    assert all(line.split()[0] in ("PASS", "MISS", "N/A") for line in lines)


@cpu_triton
def test_bench_measurement_dry_run_cpu(monkeypatch, tmp_path):
    """The GPU-only measurement code, run on CPU with a stand-in timer: rows, JSON, policy."""
    calls = []

    def fake_bench(fn, grad_to_none=None):  # backends run in the order cudnn, triton, cudnn_nchw
        fn()
        calls.append(1)
        ms = (2.0, 1.0, 3.0)[(len(calls) - 1) % 3]
        return ms, 0.9 * ms, 1.1 * ms

    monkeypatch.setattr(bench, "_bench", fake_bench)
    shape = dict(suite="cifar", batch=1, channels=4, height=5, width=5, groups=4)
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        rows = bench.measure_shape(shape, "fp32", ["fwd", "fwdbwd"], "channels_last", False,
                                   {"fp32_tflops": 1.0, "copy_gbps": 1.0}, device="cpu")
        forced = bench.measure_shape(shape, "bf16", ["fwdbwd"], "nchw", False, {}, device="cpu",
                                     algos=("direct", "gemm_window"))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    assert [r["backend"] for r in rows] == ["cudnn", "triton", "cudnn_nchw"] * 2
    assert [r["backend"] for r in forced] == ["cudnn", "triton", "triton:direct", "triton:gemm_window"]
    assert all(r["error"] is None for r in forced), [r["error"] for r in forced]
    assert all(r["error"] is None and r["ms"] > 0 for r in rows), [r["error"] for r in rows]
    tri = [r for r in rows if r["backend"] == "triton"]
    assert all(r["speedup_vs_cudnn"] == 2.0 and r["speedup_vs_cudnn_nchw"] == 3.0 for r in tri)
    assert tri[0]["group_width"] == 1 and tri[0]["pass"] == "fwd" and tri[1]["pass"] == "fwdbwd"
    checks = bench_goals.goal_checks(rows)
    assert bench_goals.format_table(rows) and bench_goals.format_checks(checks)
    env = dict(device_name="Fake GPU", torch=torch.__version__)
    path = bench.write_results(tmp_path, env, {}, rows, checks)
    assert path.name.startswith("kernels_fake-gpu_") and json.loads(path.read_text())["rows"]
    loaded = policy.load_rows(tmp_path)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert policy.decide(loaded, "Fake GPU", 64, 64, 3, 5, 5, torch.float32) is True


# --------------------------------------------------------------------------------------------
# GPU (compiled kernels, autotuning)
# --------------------------------------------------------------------------------------------
def _gpu_cases():
    rng = random.Random(99)
    pairs = [(c, g) for c in range(1, 17) for g in divisors(c)]
    cases = [make_case(rng, c, g, algo=a) for c, g in pairs for a in algorithms.ALGORITHMS]
    cases += [make_case(rng, c, g, dtype=dt) for c, g in pairs[::2] for dt in (torch.float16, torch.bfloat16)]
    return cases


GPU_CASES = _gpu_cases()


@pytest.mark.parametrize("cs", GPU_CASES, ids=[case_id(c) for c in GPU_CASES])
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_against_conv2d_gpu(cs, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # true fp32 for the 1e-4 bound
    check_case(cs, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
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
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
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
