"""Usage errors found before a study opens its storage: each is one UsageError naming the flag."""
from __future__ import annotations

from common.cli import UsageError


def check_usage(config) -> None:
    """Unknown network family, dataset, storage URL, device, more workers than the GPUs hold, a
    backend that cannot run here, or an image folder a study cannot use (listed, not yet decoded)."""
    from spectrum import NETWORKS

    from .data import DATASETS
    from .image_folder import scan_folder
    from .storage import storage_kind

    usable = [name for name, family in NETWORKS.items() if getattr(family, "in_studies", True)]
    if config.net not in usable:
        raise UsageError(f"--net {config.net!r} is not allowed; expected one of {', '.join(usable)} (or list)")
    if config.dataset not in DATASETS:
        raise UsageError(f"--dataset {config.dataset!r} is not allowed; expected one of {', '.join(DATASETS)}")
    if config.dataset == "folder":
        scan_folder(config.data_dir)
    if config.storage is not None:
        storage_kind(config.storage)
    device = study_device(config)
    if config.workers:  # the GPUs' trial slots hold them
        from .workers import worker_devices

        worker_devices(config, config.workers)
    if config.backend == "triton":
        import kernels

        if not kernels.triton_available(device):
            raise UsageError(f"--backend triton cannot run on {device} here; expected a CUDA device "
                             "(or TRITON_INTERPRET=1 for the slow CPU interpreter), or --backend torch|auto")


def study_device(config):
    """The torch device --device names; a UsageError naming the flag when it is absent or unknown."""
    from spectrum import cost

    try:
        return cost.resolve_device(config.device)
    except ValueError as err:  # the library names its argument; here it is the flag
        raise UsageError(f"--device: {err}") from None
