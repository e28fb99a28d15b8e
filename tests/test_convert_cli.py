"""`python -m spectrum.cost --model FILE.py:FUNCTION`: cost.csv one row per position (the cost table's
columns first), layers.csv one row per position and converted layer, cost.json with the model's source; one-line
usage errors, exit 2. One real process; the rest through main(argv)."""
import hashlib
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from spectrum import allowed_positions, convert_report
from spectrum.cost import main
from tests._user_models import mobilenet, resnet18

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = "tests/_user_models.py"

def test_a_real_process_writes_every_allowed_position_and_its_layers(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", "spectrum.cost", "--model", f"{MODELS}:resnet18", "--image-size", "8",
                        "--points", "all", "--out", str(tmp_path), "--threads", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    table, layers = pd.read_csv(tmp_path / "cost.csv"), pd.read_csv(tmp_path / "layers.csv")
    assert list(table.position) == allowed_positions(resnet18()) == ["regular", "depthwise"]
    assert list(table.columns[:4]) == ["position", "params", "macs", "activations"]
    assert len(layers) == 2 * 17 and set(layers.position) == {"regular", "depthwise"}
    assert "layer4.1.conv2" in r.stdout and "depthwise" in r.stdout


def test_counts_are_fvcores_and_the_layers_the_conversion_report(tmp_path, capsys):
    rc = main(["--model", f"{MODELS}:mobilenet", "--image-size", "16", "--num-classes", "5", "--order",
               "pointwise_first", "--match", "params", "--only", "dw", "--points", "regular,segments=4,depthwise",
               "--out", str(tmp_path), "--threads", "1"])
    assert rc == 0, capsys.readouterr().err
    table, layers = pd.read_csv(tmp_path / "cost.csv"), pd.read_csv(tmp_path / "layers.csv")
    torch.manual_seed(0)
    model, x = mobilenet(num_classes=5), torch.zeros(1, 3, 16, 16)
    for row in table.itertuples():
        report = convert_report(model, row.position, "pointwise_first", match="params", only="dw",
                                input_shape=(3, 16, 16))
        ops = FlopCountAnalysis(report.model.eval(), x).unsupported_ops_warnings(False).by_operator()
        assert row.params == sum(p.numel() for p in report.model.parameters())
        assert (row.macs, row.conv_macs) == (ops["conv"] + ops["linear"], ops["conv"])
        mine = layers[layers.position == row.position].drop(columns="position").to_dict("records")
        theirs = [{k: v for k, v in r.items() if k != "position"} for r in report.rows()]
        assert [m["layer"] for m in mine] == [t["layer"] for t in theirs] == [f"{i}.dw.0" for i in range(1, 6)]
        for m, t in zip(mine, theirs):
            assert m == pytest.approx(t)
    sidecar = json.loads((tmp_path / "cost.json").read_text())
    with open(MODELS, "rb") as f:
        assert sidecar["source"] == {"file": MODELS, "function": "mobilenet",
                                     "sha256": hashlib.sha256(f.read()).hexdigest()}
    assert sidecar["original"]["params"] == sum(p.numel() for p in model.parameters())
    assert sidecar["command"].startswith("python -m spectrum.cost --model") and sidecar["match"] == "params"


def model(function, *flags):
    return [f"--model={MODELS}:{function}", "--image-size", "8", *flags]


@pytest.mark.parametrize("argv, words", [
    (["--model=tests/missing.py:f", "--image-size", "8"], "model file 'tests/missing.py' does not exist"),
    (model("resnet99"), "no function 'resnet99'"),
    (model("not_a_module"), "returned a str, not a torch.nn.Module"),
    (model("only_pointwise"), "no kxk nn.Conv2d"),
    (model("raises"), "raised RuntimeError: no weights for 10 classes"),
    (model("resnet18", "--only", "zzz"), "only='zzz' matches no kxk conv"),
    (model("resnet18", "--points", "segments=2"), "argument --points: position segments=2 does not fit layer 'conv1'"),
    (model("no_in_channels", "--in-channels", "2"), "forward pass on an input of shape (2, 8, 8) failed"),
    (model("resnet18", "--latency"), "argument --latency: not available with --model"),
    ([f"--model={MODELS}:resnet18"], "argument --image-size: needed with --model"),
    (["--net", "small", "--match", "params"], "argument --match: needs --model"),
    (model("resnet18", "--net", "small"), "argument --net: not allowed with argument --model"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, words):
    try:
        rc = main([*argv, "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse's own errors exit from parse_or_exit
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "cost.csv").exists()
