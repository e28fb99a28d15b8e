"""backend="auto" (kernels.policy): Triton is preferred only where measured rows say it beats cuDNN."""
import json

import torch

from tests._kernel_cases import kernels
from kernels import policy


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
