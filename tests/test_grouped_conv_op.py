"""The custom op inception_spectrum::grouped_conv2d: tracing records one node with its arguments, and
torch.library.opcheck passes."""
import torch

from tests._kernel_cases import cpu_triton, kernels, rel_err


class _TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(8, 2, 3, 3))
        self.b1 = torch.nn.Parameter(torch.randn(8))
        self.w2 = torch.nn.Parameter(torch.randn(8, 1, 3, 3))

    def forward(self, x):
        y = kernels.grouped_conv2d(x, self.w1, self.b1, stride=(2, 1), padding=1, groups=2)
        return kernels.grouped_conv2d(torch.relu(y), self.w2, None, stride=1, padding=(0, 1), groups=8)


@cpu_triton
def test_jit_trace_records_one_custom_node():
    assert kernels.GROUPED_CONV_OP == "inception_spectrum::grouped_conv2d"
    net = _TinyNet()
    x = torch.randn(1, 4, 6, 6)
    traced = torch.jit.trace(net, x)
    kinds = [n.kind() for n in traced.graph.nodes()]
    convs = [n for n in traced.graph.nodes() if n.kind() == kernels.GROUPED_CONV_OP]
    assert len(convs) == 2
    assert not any("triton" in k for k in kinds) and "aten::_convolution" not in kinds

    def value(v):
        node = v.node()
        if node.kind() == "prim::Constant":
            return node.output().toIValue()
        if node.kind() == "prim::ListConstruct":
            return [value(i) for i in node.inputs()]
        return None

    first, second = convs
    ins = list(first.inputs())
    assert len(ins) == 6  # (x, weight, bias-or-None, stride, padding, groups)
    assert ins[0].type().sizes() == [1, 4, 6, 6]
    assert ins[1].type().kind() == "TensorType"
    assert str(ins[2].type()) != "NoneType"
    assert value(ins[3]) == [2, 1] and value(ins[4]) == [1, 1] and value(ins[5]) == 2
    assert first.output().type().sizes() == [1, 8, 3, 6]
    ins2 = list(second.inputs())
    assert str(ins2[2].type()) == "NoneType"
    assert value(ins2[3]) == [1, 1] and value(ins2[4]) == [0, 1] and value(ins2[5]) == 8
    # the traced module still computes the convolution
    assert rel_err(traced(x), net(x)) < 1e-6


@cpu_triton
def test_opcheck():
    args = (torch.randn(2, 4, 5, 5, requires_grad=True), torch.randn(4, 2, 3, 3, requires_grad=True),
            torch.randn(4, requires_grad=True), [2, 1], [1, 0], 2)
    result = torch.library.opcheck(torch.ops.inception_spectrum.grouped_conv2d.default, args)
    assert all(v == "SUCCESS" for v in result.values()), result
