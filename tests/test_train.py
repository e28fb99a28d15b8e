"""studies.train on the CPU: the fast path (channels_last, fused AdamW, one loss check an epoch, inference-mode
evaluation) against today's NCHW path, seeded determinism, the memory-format choice, augmentation."""
import math

import pytest
import torch
from torch import nn

from spectrum import build_network, small_spec
from studies import train
from studies.data import make_synthetic

CPU = torch.device("cpu")


# ---------------------------------------------------------------- the old NCHW path, verbatim

@torch.no_grad()
def _old_recompute_bn_stats(model, data, images=1024, batch_size=256):
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for start in range(0, min(images, len(data.train_y)), batch_size):
        model(data.train_x[start:start + batch_size])
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum


@torch.no_grad()
def _old_evaluate(model, data, batch_size=500):
    model.eval()
    correct = 0
    for start in range(0, len(data.val_y), batch_size):
        logits = model(data.val_x[start:start + batch_size])
        correct += (logits.argmax(1).cpu() == data.val_y[start:start + batch_size]).sum().item()
    return correct / len(data.val_y)


def _old_fit(model, data, *, epochs, batch_size, seed, lr=3e-3, weight_decay=5e-4):
    """studies.train.fit on a CPU before channels_last training (NCHW, AdamW loop, a sync per step); also the
    losses."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(data.train_y) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    accuracies, losses = [], []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(data.train_y), generator=generator)
        epoch_losses = []
        for step in range(steps_per_epoch):
            idx = order[step * batch_size:(step + 1) * batch_size]
            loss = loss_fn(model(data.train_x[idx]), data.train_y[idx])
            assert torch.isfinite(loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            epoch_losses.append(loss.item())
        losses.append(sum(epoch_losses) / len(epoch_losses))
        _old_recompute_bn_stats(model, data)
        accuracies.append(_old_evaluate(model, data))
    return tuple(accuracies), tuple(losses)


def _tiny(segments=2, seed=123):
    """A network every layer of which trains in channels_last on any x86 CPU (>= 16 channels)."""
    torch.manual_seed(seed)
    return build_network(small_spec(width=16, depth=2, image_size=16, num_classes=4, segments=segments))


# ---------------------------------------------------------------- equivalence with the old path

def test_tiny_network_trains_in_channels_last_on_cpu():
    assert train.memory_format_for(CPU, _tiny()) == "channels_last"


@pytest.mark.parametrize("segments", [1, 4, 16])
def test_first_step_matches_the_old_nchw_path(segments):
    """One step of the new path (channels_last, fused AdamW) against the NCHW loop: the same loss and
    gradients to float rounding, the same parameters after the update."""
    data = make_synthetic(n_train=64, n_val=32, n_test=32)
    x, y = data.train_x[:32], data.train_y[:32]
    old, new = _tiny(segments), _tiny(segments)
    old_opt = torch.optim.AdamW(old.parameters(), lr=1e-3, weight_decay=5e-4)
    old_loss = nn.CrossEntropyLoss()(old.train()(x), y)
    old_loss.backward()
    old_grads = [p.grad.clone() for p in old.parameters()]
    old_opt.step()

    fmt = train.MEMORY_FORMATS[train.memory_format_for(CPU, new)]
    new = new.to(memory_format=fmt).train()
    new_opt = train.make_optimizer(new, CPU, 1e-3, 5e-4)
    grads = []
    new_opt.register_step_pre_hook(lambda *_: grads.extend(p.grad.clone() for p in new.parameters()))
    new_loss = train.train_step(new, new_opt, nn.CrossEntropyLoss(), train._inputs(x, CPU, fmt), y, CPU)

    assert new_loss.item() == pytest.approx(old_loss.item(), rel=1e-5)
    flat_old, flat_new = torch.cat([g.flatten() for g in old_grads]), torch.cat([g.flatten() for g in grads])
    assert ((flat_new - flat_old).norm() / flat_old.norm()).item() < 1e-4
    for p, q in zip(old.parameters(), new.parameters()):
        torch.testing.assert_close(q.detach().contiguous(), p.detach(), rtol=1e-4, atol=1e-6)


def test_fit_matches_the_old_nchw_path():
    """A whole fit: the same validation accuracies as today's NCHW path, epoch losses within 1e-4."""
    data = make_synthetic(n_train=256, n_val=128, n_test=64)
    old_acc, old_losses = _old_fit(_tiny(), data, epochs=2, batch_size=32, seed=7)
    result = train.fit(_tiny(), data, epochs=2, batch_size=32, seed=7, device=CPU)
    assert result.memory_format == "channels_last"
    assert result.accuracy_per_epoch == old_acc
    assert result.loss_per_epoch == pytest.approx(old_losses, rel=1e-4)


def _flushes_denormals() -> bool:
    return (torch.tensor([1e-310], dtype=torch.float64) * 1.0).item() == 0.0


@pytest.mark.parametrize("flush", [False, True])
def test_fit_leaves_the_callers_subnormal_mode_as_it_was(flush):
    """fit changes nothing process-wide (a worker's settings are studies.process's): flushing subnormals
    stays off, or on, as the caller had it."""
    before = _flushes_denormals()
    try:
        assert torch.set_flush_denormal(flush) and _flushes_denormals() == flush
        train.fit(_tiny(), make_synthetic(n_train=32, n_val=32, n_test=32), epochs=1, batch_size=32, seed=0,
                  device=CPU)
        assert _flushes_denormals() == flush
    finally:
        torch.set_flush_denormal(before)


def test_same_seed_trains_to_the_same_numbers_in_channels_last():
    data = make_synthetic(n_train=128, n_val=64, n_test=64)
    runs = []
    for _ in range(2):
        model = _tiny(segments=4)
        torch.rand(1000)  # whatever ran before must not matter to the fit
        r = train.fit(model, data, epochs=2, batch_size=32, seed=7, device=CPU)
        runs.append((r.accuracy_per_epoch, r.loss_per_epoch, r.memory_format))
    assert runs[0] == runs[1]
    assert runs[0][2] == "channels_last"


def test_evaluation_is_the_same_in_both_formats_and_leaves_no_graph():
    data = make_synthetic(n_train=64, n_val=128, n_test=64)
    model = _tiny()
    train.recompute_bn_stats(model, data, CPU, memory_format="nchw")
    nchw = train.evaluate(model, data, CPU, memory_format="nchw")
    model = model.to(memory_format=torch.channels_last)
    assert train.evaluate(model, data, CPU, memory_format="channels_last") == nchw
    assert train.evaluate(model, data.for_evaluation("test"), CPU) == _old_evaluate(model, data.for_evaluation("test"))
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------- the memory-format choice

def test_memory_format_for_devices():
    assert train.CPU_MEMORY_FORMAT == "channels_last"
    assert train.memory_format_for("cpu") == "channels_last"
    assert train.memory_format_for(torch.device("cuda")) == "channels_last"
    assert train.memory_format_for("meta") == "nchw"


def test_a_strided_1x1_conv_on_few_channels_trains_in_nchw():
    """oneDNN #6035: the weight gradient of a strided 1x1 conv in NHWC with fewer input channels than its
    block corrupts the heap; such a model must train in NCHW (this test never runs it in channels_last)."""
    risky = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 7, 1, stride=2))
    assert train.onednn_unsafe_convs(risky) == ["1"]
    assert train.memory_format_for(CPU, risky) == "nchw"
    safe = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 8, 1, stride=2), nn.Conv2d(8, 8, 1))
    assert train.onednn_unsafe_convs(safe) == [] or train._onednn_ic_block() > 16
    # the narrow study networks of the tests (width 4) train in NCHW, and still train
    torch.manual_seed(0)
    narrow = build_network(small_spec(width=4, depth=2, image_size=16, num_classes=4, segments=2))
    assert train.memory_format_for(CPU, narrow) == "nchw"
    result = train.fit(narrow, make_synthetic(n_train=64, n_val=32, n_test=32), epochs=1, batch_size=32, seed=1,
                       device=CPU)
    assert result.memory_format == "nchw" and 0 <= result.accuracy <= 1


def test_an_unknown_memory_format_is_refused():
    with pytest.raises(ValueError, match="memory_format"):
        train.fit(_tiny(), make_synthetic(n_train=32, n_val=32, n_test=32), epochs=1, batch_size=32, seed=0,
                  device=CPU, memory_format="nhwc")


# ---------------------------------------------------------------- divergence, augmentation

def test_a_diverged_loss_names_its_epoch_and_step():
    data = make_synthetic(n_train=128, n_val=32, n_test=32)
    data.train_x[:] = float("nan")
    with pytest.raises(train.TrainingDiverged, match=r"loss became nan at epoch 1, step 1"):
        train.fit(_tiny(), data, epochs=2, batch_size=32, seed=0, device=CPU)


def test_augment_is_a_seeded_crop_and_flip_of_each_image():
    x = torch.randn(6, 3, 8, 8)
    out = train.augment(x, torch.Generator().manual_seed(3))
    assert out.shape == x.shape and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, train.augment(x, torch.Generator().manual_seed(3)))
    p = train.AUGMENT_PAD
    padded = nn.functional.pad(x, (p, p, p, p))
    for i in range(len(x)):  # each image is some crop of its padded self, flipped or not
        crops = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(2 * p + 1) for dx in range(2 * p + 1)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(-1)) for c in crops)


def test_fit_augments_when_the_dataset_asks():
    from dataclasses import replace

    data = make_synthetic(n_train=64, n_val=32, n_test=32, channels=3)
    def numbers(d):
        r = train.fit(_tiny_rgb(), d, epochs=1, batch_size=32, seed=0, device=CPU)
        return r.accuracy_per_epoch, r.loss_per_epoch

    plain, augmented = numbers(data), [numbers(replace(data, augment=True)) for _ in range(2)]
    assert augmented[0] == augmented[1] != plain


def _tiny_rgb():
    torch.manual_seed(5)
    return build_network(small_spec(width=16, depth=2, image_size=16, in_channels=3, num_classes=4, segments=2))


def test_cifar_schedule_warms_up_linearly_then_decays_and_mnist_does_not():
    import torch

    from studies.train import make_schedule

    def lrs(warmup):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched, seen = make_schedule(opt, 100, warmup=warmup), []
        for _ in range(100):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return seen

    warm, plain = lrs(True), lrs(False)
    assert warm[0] < 0.2 and warm[:5] == sorted(warm[:5]) and max(warm) == pytest.approx(1.0)
    assert warm[5:] == sorted(warm[5:], reverse=True)  # cosine decay after the 5-step ramp
    assert plain[0] == 1.0 and plain == sorted(plain, reverse=True)
