"""Time the cost-only spectrum sweep: params, MACs and activations of every Xception point at 299x299.

    python benchmarks/bench_cost.py [--net xception] [--image-size 299] [--threads N]

Goal: at most 30 s for every fitting Xception point on a 2-core CPU. Prints the table, the time of each point
and the total (the imports are timed separately).
"""
import argparse
import os
import sys
import time

start_imports = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from spectrum import network_cost, network_spec  # noqa: E402
from spectrum.cost import count_spec, environment, spectrum_points  # noqa: E402

imports_s = time.perf_counter() - start_imports


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="xception")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = network_spec(args.net, **({} if args.image_size is None else {"image_size": args.image_size}))
    env = environment("cpu")
    print(f"{args.net} at {base.image_size}x{base.image_size}; {env['device']}, {env['cpu']}; torch {env['torch']}, "
          f"fvcore {env['fvcore']}; imports {imports_s:.1f} s")
    total = time.perf_counter()
    rows = []
    for spec in spectrum_points(base, "all"):
        t = time.perf_counter()
        c = count_spec(spec)
        dt = time.perf_counter() - t
        ref = network_cost(spec)
        assert (c.params, c.macs) == (ref.params, ref.macs), (spec.position.label, c, ref)
        rows.append((spec.position.label, c.params, c.macs, c.activations, dt))
        print(f"  {spec.position.label:>14}  params {c.params:>13,}  MACs {c.macs:>16,}  "
              f"activations {c.activations:>12,}  {dt:5.2f} s", flush=True)
    total = time.perf_counter() - total
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(rows)} points in {total:.1f} s (goal 30 s; {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} cpus, load average {load:.1f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
