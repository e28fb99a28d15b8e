"""The design space: what a point of the Inception spectrum is (BlockSpec, networks) and what it costs."""
from .analytic import Cost, block_cost, conv_cost, conv_output_side
from .block import ACTIVATIONS, BACKENDS, ORDERS, BlockSpec, SpectrumBlock, segment_choices
from .networks import (
    NETWORKS, ModuleSpec, NetworkSpec, SpectrumNet, StemConv, build_network, match_width, matched_position, narrowest,
    network_cost, network_spec, small_net, small_spec, xception, xception_spec,
)
from .position import Position, fitting_positions

__all__ = [
    "ACTIVATIONS", "BACKENDS", "ORDERS", "NETWORKS", "BlockSpec", "Cost", "ModuleSpec", "NetworkSpec", "Position",
    "SpectrumBlock", "SpectrumNet", "StemConv", "block_cost", "build_network", "conv_cost", "conv_output_side",
    "fitting_positions", "match_width", "matched_position", "narrowest", "network_cost", "network_spec", "segment_choices",
    "small_net", "small_spec", "xception", "xception_spec",
]
