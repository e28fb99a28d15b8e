"""The design space: what a point of the Inception spectrum is (BlockSpec, networks) and what it costs.

Names load on first use, so the torch-free parts (vocabulary, cli) import without torch."""
import importlib

_WHERE = {
    "analytic": ("Cost", "block_cost", "conv_cost", "conv_output_side"),
    "block": ("ACTIVATIONS", "BlockSpec", "SpectrumBlock", "segment_choices"),
    "vocabulary": ("ACTIVATION_NAMES", "BACKENDS", "ORDERS", "divisors", "position_label", "si_count"),
    "bottleneck": ("BottleneckBlock", "BottleneckSpec"),
    "families": ("DEFAULT_NETWORK", "NETWORKS", "Family", "network_spec", "resnext_spec", "small_net", "small_spec",
                 "xception", "xception_spec"),
    "layers": ("Head", "Layer", "Site", "StemConv"),
    "matching": ("MIN_WIDTH", "match_width", "matched_position", "narrowest", "scaled", "with_widths"),
    "networks": ("NetworkSpec", "SpectrumNet", "build_network", "min_width", "network_cost"),
    "position": ("Position", "fitting_positions"),
    "xception_module": ("ModuleSpec", "XceptionModule"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'spectrum' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
