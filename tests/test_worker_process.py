"""Process-wide settings: a study worker sets them (studies.process.configure_worker), the library never
does. Flushed subnormals are read from arithmetic on a subnormal float; glibc's malloc settings, which
cannot be read back, from the page faults of training-like steps (counted, not timed)."""
import json
import os
import subprocess
import sys
import types

import pytest
import torch

from studies import workers

_TENSORS, _NUMEL = 20, 1_100_000  # a step: 20 activations of 4.4 MB
_PAGES_A_STEP = _TENSORS * _NUMEL * 4 // 4096
_CHILD = """
import ctypes, json, resource, torch
from spectrum import build_network, small_spec
from studies.data import make_synthetic
from studies.process import configure_worker
from studies.train import fit
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: 4 KiB pages counted, whatever the THP setting

def step():  # as in training: many activations alive at once, then all freed
    activations = [torch.ones({numel}) for _ in range({tensors})]
    del activations

def state():
    step(); step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    flushed = (torch.tensor([1e-310], dtype=torch.float64) * 1.0).item() == 0.0
    return {{"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, "flush_denormal": flushed}}

seen = {{"start": state()}}
model = build_network(small_spec(width=4, depth=2, image_size=16, num_classes=4, segments=2))
fit(model, make_synthetic(n_train=64, n_val=32, n_test=32), epochs=1, batch_size=32, seed=0, device="cpu")
seen["after fit"] = state()
seen["took"] = configure_worker("cpu")
seen["after configure_worker"] = state()
print(json.dumps(seen))
"""

# glibc's static mmap threshold (128 KiB), fixed by its environment variable so that the dynamic raise
# cannot hide the faults: how much of a freed heap glibc keeps by default differs between machines, so
# the baseline is pinned, and a preloaded allocator (jemalloc, tcmalloc) is taken out: this is about glibc.
_TRIMMING_GLIBC = {"MALLOC_MMAP_THRESHOLD_": "131072"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_fit_leaves_the_process_as_it_was_and_configure_worker_sets_it_up():
    """A fresh process: fit changes neither the subnormal mode nor the heap (each step still faults its
    pages in); configure_worker flushes subnormals and keeps freed memory, so the faults stop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD"))}
    env.update(_TRIMMING_GLIBC, OMP_NUM_THREADS="1")
    env.pop("TRITON_INTERPRET", None)
    code = _CHILD.format(tensors=_TENSORS, numel=_NUMEL)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    for when in ("start", "after fit"):
        assert not seen[when]["flush_denormal"], when
        assert seen[when]["faults"] > 4 * _PAGES_A_STEP, ("every step's pages should fault in", when, seen)
    assert seen["took"] == {"flush_denormal": True, "retain_freed_memory": True}
    assert seen["after configure_worker"]["flush_denormal"]
    assert seen["after configure_worker"]["faults"] < _PAGES_A_STEP / 4, seen


def test_configure_worker_on_a_gpu_sets_nothing():
    from studies.process import configure_worker

    assert configure_worker(torch.device("cuda", 0)) == {"flush_denormal": False, "retain_freed_memory": False}


def test_a_worker_configures_its_process_for_its_device_before_it_opens_the_study(monkeypatch):
    calls = []

    class Opened(Exception):
        pass

    def open_study(*args, **kwargs):
        raise Opened
    monkeypatch.setattr(workers, "configure_worker", lambda device: calls.append(torch.device(device)))
    monkeypatch.setattr(workers, "open_study", open_study)
    config = types.SimpleNamespace(deterministic=False, device="cpu")
    config.config = config  # stands in for the study's config and for a plan holding it
    with pytest.raises(Opened):
        workers.work(config, {}, threads=None)
    assert calls == [torch.device("cpu")]
