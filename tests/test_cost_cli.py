"""`python -m spectrum.cost`: the table it writes (cost.csv, one row per position; a real process), and one-line
usage errors with exit 2 (through main() in this process)."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from spectrum import fitting_positions, network_cost, network_spec
from spectrum.cost import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "spectrum.cost", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_sweep_of_all_small_points_writes_one_row_per_fitting_point_with_the_formulas_params(tmp_path):
    r = run_cli("--net", "small", "--points", "all", "--out", str(tmp_path), "--threads", "1")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "cost.csv")
    base = network_spec("small")
    positions = fitting_positions(base.spatial_widths())
    assert list(table.position) == [p.label for p in positions]
    assert list(table.columns[:4]) == ["position", "params", "macs", "activations"]
    for spec, row in zip((network_spec("small", position=p.label) for p in positions), table.itertuples()):
        cost = network_cost(spec)
        assert (row.params, row.macs) == (cost.params, cost.macs)
    assert "regular" in r.stdout and "depthwise" in r.stdout  # the same table, printed
    sidecar = json.loads((tmp_path / "cost.json").read_text())
    assert sidecar["command"].startswith("python -m spectrum.cost --net small")
    assert sidecar["environment"]["torch"] and "date" in sidecar["environment"]
    assert sidecar["image_size"] == 28


def test_the_resnext_family_sweeps_like_the_others(tmp_path, capsys):
    rc = main(["--net", "resnext", "--image-size", "16", "--points", "regular,segments=2,depthwise",
               "--out", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "cost.csv")
    assert list(table.position) == ["regular", "segments=2", "depthwise"]
    for label, row in zip(table.position, table.itertuples()):
        cost = network_cost(network_spec("resnext", image_size=16, position=label))
        assert (row.params, row.macs) == (cost.params, cost.macs)
    assert json.loads((tmp_path / "cost.json").read_text())["net"] == "resnext"


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_sweep_with_latency_adds_forward_and_train_step_columns(tmp_path, capsys, restore_threads):
    rc = main(["--net", "small", "--image-size", "32", "--in-channels", "3", "--points", "group_width=4",
               "--out", str(tmp_path), "--latency", "--device", "cpu", "--batch-size", "2", "--min-run-time", "0.01",
               "--threads", "1"])
    assert rc == 0
    table = pd.read_csv(tmp_path / "cost.csv")
    assert list(table.position) == ["group_width=4"]
    for column in ("forward_median_ms", "forward_iqr_ms", "train_step_median_ms", "train_step_iqr_ms", "batch_size",
                   "dtype", "memory_format", "device"):
        assert column in table.columns
    assert (table.forward_median_ms > 0).all() and (table.batch_size == 2).all()
    assert json.loads((tmp_path / "cost.json").read_text())["latency"]["batch_size"] == 2
    assert "group_width=4" in capsys.readouterr().out


BAD = [
    (["--net", "resnet"], "--net"),
    (["--points", "segments=3"], "--points"),
    (["--points", "segments=5"], "allowed segments: 1, 2, 4, 8, 16"),  # on the --points line
    (["--points", "half"], "--points"),
    (["--image-size", "0"], "--image-size"),
    (["--net", "xception", "--image-size", "4"], "--image-size"),  # positive but too small for the network
    (["--batch-size", "-1"], "--batch-size"),
    (["--dtype", "fp16"], "--dtype"),
    (["--memory-format", "nhwc"], "--memory-format"),
    (["--device", "cuda:99"], "--device"),
]


@pytest.mark.parametrize("args,flag", BAD, ids=[f"{b[1]}={b[0][-1]}" for b in BAD])
def test_bad_input_is_one_line_naming_the_flag_and_exit_2(args, flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        sys.exit(main(["--net", "small", "--out", str(tmp_path / "x"), *args]))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err, err
    assert not (tmp_path / "x").exists()


def test_a_runtime_failure_is_one_line_and_exit_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = main(["--net", "small", "--points", "regular", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "error" in err
