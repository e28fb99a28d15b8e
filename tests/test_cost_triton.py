"""A network counts the same whatever its conv backend: the Triton op `inception_spectrum::grouped_conv2d` has
its own fvcore handle. On a CPU the kernels run through the Triton interpreter (TRITON_INTERPRET=1, set here
before the kernels are first used), so the network is tiny."""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first kernel use

import pytest  # noqa: E402

import spectrum.cost as cost  # noqa: E402
from spectrum import build_network, network_cost, small_spec  # noqa: E402

try:
    import kernels
except Exception as exc:  # noqa: BLE001 - any import failure is a reason to skip
    kernels, KERNELS_MISSING = None, f"kernels does not import: {type(exc).__name__}: {exc}"
else:
    KERNELS_MISSING = None if hasattr(kernels, "GROUPED_CONV_OP") else "kernels has no GROUPED_CONV_OP"


def _device():
    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="module")
def ready():
    if KERNELS_MISSING:
        pytest.skip(KERNELS_MISSING)
    if not kernels.triton_available(_device()):
        pytest.skip(f"Triton grouped_conv2d cannot run on {_device()} here (Triton missing, or the kernels were "
                    f"loaded without TRITON_INTERPRET=1 before this module)")
    return True


def test_the_op_name_is_the_one_kernels_registers():
    if KERNELS_MISSING:
        pytest.skip(KERNELS_MISSING)
    assert cost.GROUPED_CONV_OP == kernels.GROUPED_CONV_OP


@pytest.mark.parametrize("position", ["regular", "segments=2", "depthwise"])
def test_a_triton_backend_network_counts_the_same_as_the_torch_one(ready, position):
    spec = small_spec(width=8, depth=2, reps=1, stem_width=8, image_size=10, position=position)
    shape = (spec.in_channels, spec.image_size, spec.image_size)
    torch_net = build_network(spec, "torch")
    triton_net = build_network(spec, "triton").to(_device())
    triton_net.load_state_dict(torch_net.state_dict())
    expected = cost.count(torch_net, shape)
    got = cost.count(triton_net, shape)
    assert (got.params, got.macs, got.activations) == (expected.params, expected.macs, expected.activations)
    assert got.macs == network_cost(spec).macs
    assert got.uncounted_ops == {}
    assert list(got.breakdown.macs) == list(expected.breakdown.macs)


def test_the_triton_node_is_really_in_the_trace(ready):
    """Guards against a silently equal count: the traced graph holds the custom op, not aten::_convolution."""
    from fvcore.nn.jit_analysis import JitModelAnalysis

    spec = small_spec(width=8, depth=1, reps=1, stem_width=8, image_size=8, position="segments=2")
    net = build_network(spec, "triton").to(_device()).eval()
    analysis = JitModelAnalysis(net, (torch.zeros(1, 1, 8, 8, device=_device()),))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        analysis.total()  # runs the trace; with no handles set every op kind is 'unsupported'
    seen = analysis.unsupported_ops()
    assert seen[kernels.GROUPED_CONV_OP] == 1 and seen["aten::_convolution"] == 2  # stem, pointwise
