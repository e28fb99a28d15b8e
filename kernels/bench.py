"""``python -m kernels.bench``: Triton grouped_conv2d vs cuDNN (and torch.compile) across the spectrum.

GPU only. Without CUDA it prints one line and exits 2.

What it measures
----------------
For every shape and group count: the Triton kernels (``kernels.grouped_conv2d``), ``F.conv2d``
(cuDNN, ``torch.backends.cudnn.benchmark = True``) in the same memory format, and
``torch.compile`` of ``F.conv2d`` where it compiles; for depthwise rows also ``F.conv2d`` on NCHW
tensors (the "torch NCHW depthwise" baseline). Forward and forward+backward (grad input and weight).
Timing: ``kernels.timer.measure`` (``triton.testing.do_bench``: warm-up, L2 flushed between
repeats), median with the 20th/80th percentiles. Precisions: bf16, fp32 with TF32 and true fp32, reported apart
(``cudnn.allow_tf32`` and ``cuda.matmul.allow_tf32`` set alike for every backend; the Triton path
follows ``cudnn.allow_tf32``).

Shapes (3x3, stride 1, padding 1, in = out channels, no bias, as in a SpectrumBlock's spatial step):
* ``middle``: Xception middle flow, 728 channels at 19x19, batch 32 and 128, every divisor of 728.
* ``entry``:  Xception entry flow, 128 channels at 74x74 and 256 at 37x37, batch 32.
* ``cifar``:  64/128/256 channels at 32x32 and 16x16, batch 256.
(entry/cifar: the power-of-two group counts plus depthwise.)

Per row: ms (median, p20, p80), TFLOP/s (FLOPs = 2 x MACs; fwd+bwd = 3x fwd), GB/s over the
minimum bytes moved (fwd: x + w + y; fwd+bwd adds dy, x, w read and dx, dw written), the roofline
fraction  max(FLOPs / peak_FLOPs, bytes / peak_BW) / time  and the bandwidth fraction
(bytes / peak_BW) / time, with peaks measured in the same run (a large matmul per precision for
compute, a large device copy for bandwidth), and the speedup against cuDNN.

Output: ``<out>/kernels_<device>_<date>.json`` (environment record of ``common.environment``, peaks,
rows, goal checks) and a printed table, then the kernels' goal checks as PASS/MISS lines (the goals
and the table format: ``kernels.bench_goals``).

Flags: ``--quick`` (a few shapes), ``--out DIR``, ``--dtype bf16,tf32,fp32``,
``--shapes middle,entry,cifar``, ``--passes fwd,fwdbwd``, ``--no-compile``, ``--format``,
``--compare-algos`` (extra rows ``triton:<name>`` for every row of ``kernels.algorithms.TABLE``
(direct, gemm_flat, gemm_window) with the algorithm forced, for C/g <= 64: where the direct/GEMM
crossover really is on this GPU).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from . import grouped_conv as gc
from .algorithms import TABLE
from .bench_goals import PRECISIONS, format_checks, format_table, goal_checks
from common.environment import environment
from common.vocabulary import divisors
from .timer import measure

NO_GPU_LINE = "kernels.bench needs a CUDA GPU (none found)"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"

SUITES = ("middle", "entry", "cifar")
PASSES = ("fwd", "fwdbwd")

#: --compare-algos times the forced algorithms up to this group width
COMPARE_MAX_CG = 64


# --------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------
def pow2_groups(c: int) -> list:
    gs = [g for g in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if g <= c and c % g == 0]
    return sorted(set(gs + [c]))


def shape_list(suites, quick: bool) -> list:
    """Dicts with suite, batch, channels, height, width, groups (kernel 3, stride 1, padding 1)."""
    shapes = []

    def add(suite, batch, c, hw, groups):
        for g in groups:
            shapes.append(dict(suite=suite, batch=batch, channels=c, height=hw, width=hw, groups=g))

    if "middle" in suites:
        if quick:
            add("middle", 32, 728, 19, [1, 4, 28, 91, 182, 728])
        else:
            for b in (32, 128):
                add("middle", b, 728, 19, divisors(728))
    if "entry" in suites:
        if quick:
            add("entry", 32, 256, 37, [1, 8, 64, 256])
        else:
            add("entry", 32, 128, 74, pow2_groups(128))
            add("entry", 32, 256, 37, pow2_groups(256))
    if "cifar" in suites:
        if quick:
            add("cifar", 256, 128, 32, [1, 8, 32, 128])
        else:
            for c in (64, 128, 256):
                for hw in (32, 16):
                    add("cifar", 256, c, hw, pow2_groups(c))
    return shapes


# --------------------------------------------------------------------------------------------
# cost model of one row
# --------------------------------------------------------------------------------------------
def conv_cost(batch, channels, groups, hw_h, hw_w, k, elsize, pass_):
    """(FLOPs, minimum bytes) for a C->C, kxk, stride 1, 'same' convolution."""
    cg = channels // groups
    macs = batch * hw_h * hw_w * channels * cg * k * k
    x = batch * channels * hw_h * hw_w
    w = channels * cg * k * k
    y = x
    if pass_ == "fwd":
        return 2 * macs, (x + w + y) * elsize
    # fwd + bwd: forward, then read dy, x, w and write dx, dw
    return 3 * 2 * macs, (x + w + y + y + x + w + x + w) * elsize


# --------------------------------------------------------------------------------------------
# measurement (CUDA only)
# --------------------------------------------------------------------------------------------
def _set_precision(prec):
    tf32 = prec == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    return torch.bfloat16 if prec == "bf16" else torch.float32


def _bench(fn, grad_to_none=None):
    """(median, p20, p80) ms of `fn` on the GPU (`kernels.timer.measure`: do_bench, L2 flushed)."""
    timing = measure(fn, "cuda", min_run_time=0.1, grad_to_none=grad_to_none)
    return tuple(timing.quantile(q) for q in (0.5, 0.2, 0.8))


def measure_peaks(precisions):
    """Compute peak per precision (a large matmul) and bandwidth (a large device copy), in this run."""
    peaks = {}
    n = 8192
    for prec in precisions:
        dtype = _set_precision(prec)
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        ms, _, _ = _bench(lambda: torch.mm(a, b))
        peaks[f"{prec}_tflops"] = 2 * n**3 / (ms * 1e-3) / 1e12
        del a, b
    src = torch.empty(2**28, device="cuda", dtype=torch.float32)  # 1 GiB
    dst = torch.empty_like(src)
    ms, _, _ = _bench(lambda: dst.copy_(src))
    peaks["copy_gbps"] = 2 * src.numel() * 4 / (ms * 1e-3) / 1e9
    del src, dst
    torch.cuda.empty_cache()
    return peaks


def _compiled_conv(groups):
    def conv(x, w):
        return F.conv2d(x, w, None, 1, 1, 1, groups)

    return torch.compile(conv, dynamic=False)


def _inputs(shape, dtype, fmt, device, k):
    """x and the weight (both requiring grad) and a grad_output, random, in memory format ``fmt``."""
    b, c, h, w, g = shape["batch"], shape["channels"], shape["height"], shape["width"], shape["groups"]
    mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
    x = torch.randn(b, c, h, w, device=device, dtype=dtype).to(memory_format=mf).requires_grad_()
    wt = (torch.randn(c, c // g, k, k, device=device, dtype=dtype) / math.sqrt(c // g * k * k))
    wt = wt.to(memory_format=mf).requires_grad_()
    dy = torch.randn(b, c, h, w, device=device, dtype=dtype).to(memory_format=mf)
    return x, wt, dy


def _autograd_pair(conv, xx, ww, gy):
    """(forward, forward+backward) callables of ``conv(xx, ww)`` and the tensors whose grads to reset."""
    def fwd():
        with torch.no_grad():
            conv(xx, ww)

    def fwdbwd():
        conv(xx, ww).backward(gy)

    return fwd, fwdbwd, [xx, ww]


def _forced_pair(x, wt, dy, g, algo):
    """(forward, forward+grad_input+grad_weight) callables through the launchers with ``algo`` forced."""
    xd, wd = x.detach(), wt.detach()

    def fwd():
        gc.conv_forward(xd, wd, None, [1, 1], [1, 1], g, algo)

    def fwdbwd():
        gc.conv_forward(xd, wd, None, [1, 1], [1, 1], g, algo)
        gc.conv_grad_input(dy, wd, xd, [1, 1], [1, 1], g, algo)
        gc.conv_grad_weight(dy, xd, tuple(wd.shape), [1, 1], [1, 1], g, False, algo)

    return fwd, fwdbwd, None


def _backends(x, wt, dy, g, fmt, use_compile, algos):
    """Backend name -> (fwd, fwdbwd, grads), or the exception that kept it from being built."""
    backends = {
        "cudnn": _autograd_pair(lambda xx, ww: F.conv2d(xx, ww, None, 1, 1, 1, g), x, wt, dy),
        "triton": _autograd_pair(lambda xx, ww: gc.grouped_conv2d(xx, ww, None, 1, 1, g), x, wt, dy),
    }
    if use_compile:
        try:
            from torch import _dynamo

            _dynamo.reset()
            backends["compile"] = _autograd_pair(_compiled_conv(g), x, wt, dy)
        except Exception as e:  # pragma: no cover - depends on the install
            backends["compile"] = e
    if g == x.shape[1] and fmt == "channels_last":
        xn = x.detach().contiguous().requires_grad_()
        wn = wt.detach().contiguous().requires_grad_()
        backends["cudnn_nchw"] = _autograd_pair(lambda xx, ww: F.conv2d(xx, ww, None, 1, 1, 1, g), xn, wn,
                                                dy.contiguous())
    for algo in algos:
        backends[f"triton:{algo}"] = _forced_pair(x, wt, dy, g, algo)
    return backends


def _timed_row(base, name, entry, fmt, peaks, device):
    """One backend's row for ``base`` (a shape, precision and pass): time, throughput, roofline; or the error."""
    flops, nbytes, pass_ = base["flops"], base["min_bytes"], base["pass"]
    peak_flops = peaks.get(f"{base['precision']}_tflops", 0.0) * 1e12
    peak_bw = peaks.get("copy_gbps", 0.0) * 1e9
    row = dict(base, backend=name, memory_format="nchw" if name == "cudnn_nchw" else fmt,
               ms=None, ms_p20=None, ms_p80=None, error=None)
    try:
        if isinstance(entry, Exception):
            raise entry
        fwd, fwdbwd, grads = entry
        if pass_ == "fwd":
            med, p20, p80 = _bench(fwd)
        else:
            med, p20, p80 = _bench(fwdbwd, grad_to_none=grads)
        row.update(ms=med, ms_p20=p20, ms_p80=p80,
                   tflops=flops / (med * 1e-3) / 1e12, gbps=nbytes / (med * 1e-3) / 1e9)
        bound = max(flops / peak_flops if peak_flops else 0.0, nbytes / peak_bw if peak_bw else 0.0)
        row["roofline_fraction"] = bound / (med * 1e-3)
        row["bandwidth_fraction"] = (nbytes / peak_bw) / (med * 1e-3) if peak_bw else None
    except Exception as e:
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        if device == "cuda":
            torch.cuda.synchronize()
    return row


def _add_speedups(rows):
    """Each timed row of one pass gets its speedup against cuDNN (and cuDNN NCHW, where timed)."""
    times = {row["backend"]: row["ms"] for row in rows if row["ms"] is not None}
    for row in rows:
        if row["ms"] is not None and row["backend"] != "cudnn":
            if "cudnn" in times:
                row["speedup_vs_cudnn"] = times["cudnn"] / row["ms"]
            if "cudnn_nchw" in times and row["backend"] != "cudnn_nchw":
                row["speedup_vs_cudnn_nchw"] = times["cudnn_nchw"] / row["ms"]


def measure_shape(shape, prec, passes, fmt, use_compile, peaks, device="cuda", algos=()):
    """Rows for one (shape, precision): every backend, every pass.

    ``algos``: extra Triton rows with one algorithm forced (names of ``kernels.algorithms.TABLE``),
    backend "triton:<algo>", timed through the launchers (forward; forward + grad_input +
    grad_weight), to place the direct/GEMM crossover (``algorithms.DIRECT_MAX_CG``) on a GPU.
    ``device`` other than cuda only for a dry run of this code in tests, with ``_bench`` replaced.
    """
    dtype = _set_precision(prec)
    b, c, h, w, g = shape["batch"], shape["channels"], shape["height"], shape["width"], shape["groups"]
    k = 3
    x, wt, dy = _inputs(shape, dtype, fmt, device, k)
    backends = _backends(x, wt, dy, g, fmt, use_compile, algos)
    rows = []
    for pass_ in passes:
        flops, nbytes = conv_cost(b, c, g, h, w, k, x.element_size(), pass_)
        base = dict(shape, group_width=c // g, kernel_size=k, stride=1, padding=1,
                    dtype=str(dtype).replace("torch.", ""), precision=prec,
                    memory_format=fmt, flops=flops, min_bytes=nbytes)
        base["pass"] = pass_
        pass_rows = [_timed_row(base, name, entry, fmt, peaks, device) for name, entry in backends.items()]
        _add_speedups(pass_rows)
        rows.extend(pass_rows)
    return rows


def write_results(out_dir, env, peaks, rows, checks) -> Path:
    """Write ``<out_dir>/kernels_<device>_<YYYYMMDD>.json`` (a time suffix if that exists)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now()
    path = out_dir / f"kernels_{_device_slug(env['device_name'])}_{now:%Y%m%d}.json"
    if path.exists():
        path = out_dir / f"kernels_{_device_slug(env['device_name'])}_{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(dict(environment=env, peaks=peaks, rows=rows, goals=checks), indent=1))
    return path


def _device_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "cuda"


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m kernels.bench",
        description="Time Triton grouped_conv2d against cuDNN and torch.compile across the spectrum "
                    "(CUDA only); write JSON and print a table and the kernels' goal checks.",
    )
    p.add_argument("--quick", action="store_true", help="a few shapes only")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the JSON (default benchmarks/results)")
    p.add_argument("--dtype", default="bf16,tf32,fp32", help="comma list of bf16, tf32, fp32")
    p.add_argument("--shapes", default="middle,entry,cifar", help="comma list of middle, entry, cifar")
    p.add_argument("--passes", default="fwd,fwdbwd", help="comma list of fwd, fwdbwd")
    p.add_argument("--format", default="channels_last", choices=("channels_last", "nchw"),
                   help="memory format of all tensors (default channels_last)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    p.add_argument("--compare-algos", action="store_true",
                   help=f"also time each Triton algorithm forced ({', '.join(a.name for a in TABLE)}) "
                        f"for C/g <= {COMPARE_MAX_CG}, to place the direct/GEMM crossover")
    args = p.parse_args(argv)

    def pick(value, allowed, flag):
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in allowed]
        if bad or not items:
            p.error(f"{flag}: unknown {bad or value!r}; allowed: {', '.join(allowed)}")
        return items

    args.dtype = pick(args.dtype, PRECISIONS, "--dtype")
    args.shapes = pick(args.shapes, SUITES, "--shapes")
    args.passes = pick(args.passes, PASSES, "--passes")
    return args


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    if not torch.cuda.is_available():
        print(NO_GPU_LINE, file=sys.stderr)
        return 2
    if os.environ.get("TRITON_INTERPRET", "0") not in ("0", ""):
        print("kernels.bench times compiled kernels: unset TRITON_INTERPRET", file=sys.stderr)
        return 2

    torch.backends.cudnn.benchmark = True
    if not args.no_compile:
        try:  # one compiled function per shape: allow that many recompiles
            from torch import _dynamo

            for knob in ("cache_size_limit", "recompile_limit"):
                if hasattr(_dynamo.config, knob):
                    setattr(_dynamo.config, knob, 1024)
        except Exception:  # pragma: no cover - torch.compile unavailable: its rows record the error
            pass

    env = environment("cuda", argv=["python -m kernels.bench", *argv])
    print(f"# {env['device_name']}  torch {env['torch']}  triton {env['triton']}  CUDA {env['cuda']}  "
          f"cuDNN {env['cudnn']}  commit {env['git_commit']}")
    peaks = measure_peaks(args.dtype)
    print("# peaks: " + "  ".join(f"{k} {v:.1f}" for k, v in peaks.items()))

    shapes = shape_list(args.shapes, args.quick)
    rows = []
    for prec in args.dtype:
        for shape in shapes:
            cg = shape["channels"] // shape["groups"]
            algos = tuple(a.name for a in TABLE) if args.compare_algos and cg <= COMPARE_MAX_CG else ()
            new = measure_shape(shape, prec, args.passes, args.format, not args.no_compile, peaks, algos=algos)
            rows.extend(new)
            for line in format_table(new)[2:]:
                print(line, flush=True)

    checks = goal_checks(rows)
    path = write_results(args.out, env, peaks, rows, checks)

    print()
    for line in format_table(rows):
        print(line)
    print()
    for line in format_checks(checks):
        print(line)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
