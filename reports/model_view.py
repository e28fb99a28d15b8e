"""Your own network on the page (--model): each converted layer, the conv it replaced, the block that replaced it
and the MACs and params before and after, at every position and order the study trains, from config.json's
`model_conversion` (studies.model writes it; torch-free here)."""
from __future__ import annotations

import pandas as pd

from records.table import human_count

__all__ = ["model_view"]


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.3f}" if before else ""


def _totals(conv: dict, layers: pd.DataFrame) -> pd.DataFrame:
    """One row per order and position: the whole network's params and MACs after conversion (the unconverted
    layers as they were), and their ratios to the model's."""
    original = conv.get("original") or {}
    rows = []
    for (order, position), g in layers.groupby(["order", "position"], sort=False):
        params = original.get("params", 0) - g["params_before"].sum() + g["params_after"].sum()
        macs = original.get("macs", 0) - g["macs_before"].sum() + g["macs_after"].sum()
        worst = (g["ratio"] - 1).abs().max()
        rows.append({"order": order, "position": position, "params": f"{int(params):,}",
                     "params ratio": _ratio(params, original.get("params", 0)), "MACs": f"{int(macs):,}",
                     "MACs ratio": _ratio(macs, original.get("macs", 0)),
                     "layers within 3%": f"{int(((g['ratio'] - 1).abs() <= 0.03 + 1e-12).sum())} of {len(g)}",
                     "farthest layer from its conv": f"{worst:.1%}"})
    return pd.DataFrame(rows)


def _pivot(layers: pd.DataFrame) -> pd.DataFrame:
    """One order's layers: one row per converted layer (its conv, params, MACs), one column per position, each
    cell 'g<segments> w<inner width> x<ratio>'."""
    cells = layers.assign(cell=[f"g{r.segments} w{r.inner_width} ×{r.ratio:.2f}" for r in layers.itertuples()])
    view = cells.pivot(index="layer", columns="position", values="cell")
    first = layers.drop_duplicates("layer").set_index("layer")
    view = view.reindex(index=first.index, columns=list(dict.fromkeys(layers["position"])))
    out = pd.DataFrame({"conv": first["conv"], "params": first["params_before"].map("{:,}".format),
                        "MACs": first["macs_before"].map("{:,}".format)})
    return pd.concat([out, view], axis=1).reset_index()


def _detail(layers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "order": layers["order"], "position": layers["position"], "layer": layers["layer"], "conv": layers["conv"],
        "block": layers["block"], "params before": layers["params_before"].map("{:,}".format),
        "params after": layers["params_after"].map("{:,}".format),
        "MACs before": layers["macs_before"].map("{:,}".format), "MACs after": layers["macs_after"].map("{:,}".format),
        "ratio": layers["ratio"].map("{:.3f}".format),
        "tolerance": layers["tolerance"].map(lambda t: "" if pd.isna(t) else f"{t:.1%}"),
    })


def _summary(conv: dict, layers: pd.DataFrame) -> str:
    source, original = conv.get("source") or {}, conv.get("original") or {}
    shape = "x".join(map(str, conv.get("input_shape") or [])) or "?"
    n = layers["layer"].nunique()
    only = f" whose names match {conv['only']!r}" if conv.get("only") else ""
    match = conv.get("match")
    how = ("each block's inner width at its conv's output channels (unmatched)" if match == "none" else
           f"each block sized to cost its conv's {'MACs' if match == 'macs' else 'params'} (within 3%, or the "
           f"closest its segment count allows: the ratio column), so every position costs what the model costs")
    return (f"Function {source.get('function', '?')} of {source.get('file', '?')} (sha256 "
            f"{str(source.get('sha256', '?'))[:12]}...) for {conv.get('num_classes', '?')} classes at {shape}: {human_count(original.get('params'))} params, "
            f"{human_count(original.get('macs'))} MACs. Its {n} kxk convs{only} become a 1x1 and a kxk step in "
            f"segments groups; {how}. Positions: segment counts that divide every converted layer (base width "
            f"{conv.get('base_width', '?')}: depthwise is group width 1 in every layer).")


def model_view(config: dict | None) -> dict | None:
    """The page's network section, or None when the study is not of your own network."""
    conv = (config or {}).get("model_conversion")
    if not isinstance(conv, dict) or not conv.get("layers"):
        return None
    layers = pd.DataFrame(conv["layers"])
    orders = list(dict.fromkeys(layers["order"]))
    return {
        "title": conv.get("ref", "your network"),
        "summary": _summary(conv, layers),
        "totals": _totals(conv, layers),
        "pivots": [(f"Converted layers, {order.replace('_', ' ')}: segments (g), inner width (w) and cost ratio "
                    f"to the conv, per position", _pivot(layers[layers["order"] == order])) for order in orders],
        "detail": _detail(layers),
    }
