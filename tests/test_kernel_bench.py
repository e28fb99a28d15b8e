"""python -m kernels.bench without a GPU: the one-line exit, its shapes and cost model, the goal
arithmetic, and its measurement code run on a CPU with a stand-in timer."""
import json

import torch

from tests._kernel_cases import cpu_triton, divisors
from kernels import bench, bench_goals, policy


def test_bench_without_gpu_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main([]) == 2
    out = capsys.readouterr()
    assert (out.out + out.err).strip().splitlines() == ["kernels.bench needs a CUDA GPU (none found)"]


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
