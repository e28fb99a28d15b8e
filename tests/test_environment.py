"""The environment record of every measurement (common.environment): keys, the command, git state."""
import subprocess

import torch

from common.environment import environment, git_state


def test_git_dirty_counts_code_changes_not_result_files(tmp_path):
    """A benchmark that rewrites its own results file must not mark the next measurement as of a dirty tree."""
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
