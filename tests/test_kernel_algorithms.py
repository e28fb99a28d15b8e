"""The kernel algorithm table (kernels.algorithms): one row per group width under "auto", names,
families and the launchers each row resolves to."""
import re
from pathlib import Path

import pytest

from tests._kernel_cases import algorithms, gc


def test_algorithm_table():
    """Under "auto" every group width has exactly one row; names, families and launchers resolve."""
    for cg in range(1, 200):
        assert sum(row.serves(cg) for row in algorithms.TABLE) == 1, cg
        assert algorithms.pick("auto", cg).serves(cg)
    assert algorithms.pick("auto", gc.DIRECT_MAX_CG).name == "direct"
    assert algorithms.pick("auto", gc.DIRECT_MAX_CG + 1).family == "gemm"
    assert algorithms.pick("gemm", 1).name == "gemm_flat" and algorithms.pick("gemm", 64).name == "gemm_window"
    assert algorithms.pick("direct", 64).name == "direct"
    assert gc.ALGORITHMS[0] == "auto" and {*algorithms.BY_NAME, *algorithms.FAMILIES} == set(gc.ALGORITHMS[1:])
    assert all(algorithms.pick(name, cg) for name in gc.ALGORITHMS for cg in (1, 64))  # every name accepted
    with pytest.raises(ValueError, match="algo must be one of"):
        algorithms.pick("winograd", 4)
    kernel_files = {p.stem for p in Path(algorithms.__file__).parent.glob("*.py")  # a Triton kernel in it
                    if re.search(r"^def \w+_kernel\(", p.read_text(), re.M)}
    assert set(algorithms.modules()) == kernel_files  # a new kernel file is launched by a row, and so tested
    for row in algorithms.TABLE:
        for ref in (row.forward, row.weight_grad):
            assert callable(algorithms.resolve(ref))


@pytest.mark.parametrize("module", algorithms.modules())
def test_each_kernels_config_rule_keeps_some_of_its_gpu_configs(module):
    """The early pruner (`launch.pruner` over the kernel file's `_fits`) on the GPU configs a GPU tunes over:
    it reads the kernel's arguments by name (constexprs as keywords) and never keeps nothing."""
    import importlib

    from kernels.launch import pruner

    kernel = importlib.import_module(f"kernels.{module}")
    configs = list(kernel.GPU_CONFIGS)
    if not hasattr(kernel, "_fits"):
        pytest.skip(f"{module} tunes over every config")
    for ocg in (1, 8, 512):
        kept = pruner(kernel._fits)(configs, {"OC": 4 * ocg, "OCG": ocg, "CG": ocg}, TAPS=16)
        assert kept and all(c in configs for c in kept)
