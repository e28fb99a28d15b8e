"""The kernel algorithm table (kernels.algorithms): one row per group width under "auto", names,
families and the launchers each row resolves to."""
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
    assert gc.ALGORITHMS == ("auto", "direct", "gemm", "gemm_flat", "gemm_window")
    with pytest.raises(ValueError, match="algo must be one of"):
        algorithms.pick("winograd", 4)
    assert set(algorithms.modules()) == {"direct_depthwise", "direct_depthwise_wgrad", "implicit_gemm",
                                         "implicit_gemm_wgrad"}
    for row in algorithms.TABLE:
        for ref in (row.forward, row.weight_grad):
            assert callable(algorithms.resolve(ref))
