"""The design space: what a point of the Inception spectrum is (BlockSpec, networks) and what it costs."""
from .analytic import Cost, block_cost, conv_cost, conv_output_side
from .block import ACTIVATIONS, BACKENDS, ORDERS, BlockSpec, SpectrumBlock, segment_choices
from .bottleneck import BottleneckBlock, BottleneckSpec
from .convert import Conversion, ConversionError, ConvertedBlock, LayerConversion, allowed_positions, convert_report
from .convert import convert  # after the submodule import: `spectrum.convert` is the function
from .families import (
    DEFAULT_NETWORK, NETWORKS, Family, network_spec, resnext_spec, small_net, small_spec, xception, xception_spec,
)
from .layers import Head, Layer, Site, StemConv
from .model_spec import ModelSpec
from .matching import MIN_WIDTH, match_width, matched_position, narrowest, scaled, with_widths
from .networks import NetworkSpec, SpectrumNet, build_network, min_width, network_cost
from .position import Position, fitting_positions
from .xception_module import ModuleSpec, XceptionModule

__all__ = [
    "ACTIVATIONS", "BACKENDS", "DEFAULT_NETWORK", "MIN_WIDTH", "NETWORKS", "ORDERS", "BlockSpec",
    "BottleneckBlock", "BottleneckSpec", "Conversion", "ConversionError", "ConvertedBlock", "Cost", "Family",
    "Head", "Layer", "LayerConversion", "ModelSpec", "ModuleSpec", "NetworkSpec", "Position", "Site", "SpectrumBlock",
    "SpectrumNet", "StemConv", "XceptionModule", "allowed_positions", "block_cost", "build_network", "conv_cost",
    "conv_output_side", "convert", "convert_report", "fitting_positions", "match_width", "matched_position",
    "min_width", "narrowest", "network_cost", "network_spec", "resnext_spec", "scaled", "segment_choices",
    "small_net", "small_spec", "with_widths", "xception", "xception_spec",
]
