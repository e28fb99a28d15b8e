"""Goal checks and the printed table of ``python -m kernels.bench`` (pure functions of the rows,
testable without a GPU).

The kernels' goals, each a PASS/MISS/N/A line per precision:

* intermediate (4 <= C/g <= 64, not dense) fwd+bwd: geomean speedup vs cuDNN >= 1.5 and geomean
  roofline fraction >= 0.6 (for these shapes the roofline bound is the memory-bound limit);
* depthwise: forward bandwidth fraction >= 0.8 of the measured copy bandwidth, >= 1.0x cuDNN
  channels_last, >= 1.5x torch on NCHW (geomeans);
* dense (g <= 4, C/g >= 16): geomean speedup vs cuDNN >= 0.9;
* no cliff: at fixed channels/shape/precision/pass, Triton time non-increasing in g (5% tolerance).
"""

from __future__ import annotations

import math
import statistics

PRECISIONS = ("bf16", "tf32", "fp32")

CLIFF_TOLERANCE = 1.05


def geomean(values):
    """The geometric mean of the positive, finite values (None where there is none)."""
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return statistics.geometric_mean(vals) if vals else None


def _ok(rows):
    return [r for r in rows if r.get("ms") is not None and not r.get("error")]


def goal_checks(rows) -> list:
    """The kernels' goals as dicts {name, precision, status: PASS|MISS|N/A, value, target, detail}."""
    checks = []
    rows = _ok(rows)
    triton = [r for r in rows if r["backend"] == "triton"]
    precs = sorted({r["precision"] for r in triton}, key=lambda p: PRECISIONS.index(p) if p in PRECISIONS else 9)

    def check(name, prec, value, target, detail, n):
        if value is None or n == 0:
            status = "N/A"
        else:
            status = "PASS" if value >= target else "MISS"
        checks.append(dict(name=name, precision=prec, status=status, value=value, target=target,
                           detail=detail, rows=n))

    for prec in precs:
        tr = [r for r in triton if r["precision"] == prec]
        inter = [r for r in tr if r["pass"] == "fwdbwd" and 4 <= r["group_width"] <= 64 and r["groups"] > 1]
        check("intermediate C/g 4..64 fwd+bwd speedup vs cuDNN (geomean)", prec,
              geomean([r.get("speedup_vs_cudnn") for r in inter]), 1.5, "x", len(inter))
        check("intermediate C/g 4..64 fwd+bwd fraction of roofline/memory-bound limit (geomean)", prec,
              geomean([r.get("roofline_fraction") for r in inter]), 0.6, "fraction", len(inter))

        dw_fwd = [r for r in tr if r["group_width"] == 1 and r["pass"] == "fwd"]
        dw_all = [r for r in tr if r["group_width"] == 1]
        check("depthwise fwd fraction of copy bandwidth (geomean)", prec,
              geomean([r.get("bandwidth_fraction") for r in dw_fwd]), 0.8, "fraction", len(dw_fwd))
        check("depthwise speedup vs cuDNN channels_last (geomean)", prec,
              geomean([r.get("speedup_vs_cudnn") for r in dw_all]), 1.0, "x", len(dw_all))
        check("depthwise speedup vs torch NCHW depthwise (geomean)", prec,
              geomean([r.get("speedup_vs_cudnn_nchw") for r in dw_all]), 1.5, "x",
              len([r for r in dw_all if r.get("speedup_vs_cudnn_nchw")]))

        dense = [r for r in tr if r["groups"] <= 4 and r["group_width"] >= 16]
        check("dense g<=4 speedup vs cuDNN (geomean)", prec,
              geomean([r.get("speedup_vs_cudnn") for r in dense]), 0.9, "x", len(dense))

        # no cliff: time non-increasing in g at fixed everything else
        series = {}
        for r in tr:
            key = (r["suite"], r["batch"], r["channels"], r["height"], r["width"], r["pass"], r["memory_format"])
            series.setdefault(key, []).append(r)
        worst, offenders, n = 1.0, [], 0
        for key, rs in series.items():
            rs = sorted(rs, key=lambda r: r["groups"])
            for a, b in zip(rs, rs[1:]):
                n += 1
                ratio = b["ms"] / a["ms"]
                if ratio > worst:
                    worst = ratio
                if ratio > CLIFF_TOLERANCE:
                    offenders.append(f"{key[0]} C={key[2]} {key[3]}x{key[4]} b{key[1]} {key[5]}: "
                                     f"g {a['groups']}->{b['groups']} x{ratio:.2f}")
        status = "N/A" if n == 0 else ("PASS" if not offenders else "MISS")
        checks.append(dict(name=f"no cliff: time non-increasing in g (tolerance {CLIFF_TOLERANCE:.2f})",
                           precision=prec, status=status, value=worst, target=CLIFF_TOLERANCE,
                           detail="; ".join(offenders[:6]), rows=n))
    return checks


def format_checks(checks) -> list:
    lines = []
    for c in checks:
        val = "n/a" if c["value"] is None else f"{c['value']:.3g}"
        op = "<=" if c["name"].startswith("no cliff") else ">="
        extra = f"  [{c['detail']}]" if c["name"].startswith("no cliff") and c["detail"] else ""
        lines.append(f"{c['status']:4s} [{c['precision']}] {c['name']}: {val} (target {op} {c['target']}, "
                     f"{c['rows']} rows){extra}")
    return lines


def format_table(rows) -> list:
    head = (f"{'suite':7s} {'pass':6s} {'prec':4s} {'B':>4s} {'C':>4s} {'HxW':>6s} {'g':>4s} {'C/g':>4s} "
            f"{'backend':18s} {'ms':>8s} {'p20':>8s} {'p80':>8s} {'TFLOP/s':>8s} {'GB/s':>7s} "
            f"{'roof':>5s} {'vs cuDNN':>8s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.get("error"):
            lines.append(f"{r['suite']:7s} {r['pass']:6s} {r['precision']:4s} {r['batch']:4d} {r['channels']:4d} "
                         f"{r['height']:>3d}x{r['width']:<2d} {r['groups']:4d} {r['group_width']:4d} "
                         f"{r['backend']:18s} error: {r['error'][:60]}")
            continue
        sp = r.get("speedup_vs_cudnn")
        lines.append(
            f"{r['suite']:7s} {r['pass']:6s} {r['precision']:4s} {r['batch']:4d} {r['channels']:4d} "
            f"{r['height']:>3d}x{r['width']:<2d} {r['groups']:4d} {r['group_width']:4d} {r['backend']:18s} "
            f"{r['ms']:8.4f} {r['ms_p20']:8.4f} {r['ms_p80']:8.4f} {r['tflops']:8.2f} {r['gbps']:7.0f} "
            f"{r['roofline_fraction']:5.2f} {('' if sp is None else f'{sp:.2f}x'):>8s}"
        )
    return lines
