"""The speed options of the training loop change how the work is done, not what is computed.

channels_last (NHWC memory layout), torch.compile and the fused Adam update must give the same
training run as the plain layout, the eager model and the reference Adam, within float32 round-off,
on the CPU; bf16 autocast (amp) the same losses within its rounding; keeping freed memory in glibc's
heap touches no arithmetic at all. Each has a flag on the command line. The objective takes the
ELBO's NLL and the MSE from the recon term it has just computed, which must equal computing them
again from the pixels.
"""

import ctypes.util
import sys

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

from vaelab.cli import build_parser
from vaelab.cli.train import config_from_args
from vaelab.config import ObjectiveConfig, TrainingConfig
from vaelab.data import load_images, split_indices
from vaelab.objectives import build_objective
from vaelab.objectives.objective import make_likelihood
from vaelab.training.device import keep_freed_memory
from vaelab.training.run import training_network
from vaelab.training.trainer import Trainer

from factories import tiny_config

STEPS = 8


def trained(adam: str = "default", **training) -> Trainer:
    """A Trainer after STEPS steps on a small digits set, built as `vaelab.training.run.train` builds it. No
    linear path: it starts the network's output layers at zero, where the first steps' gradients are at roundoff
    level and Adam's normalised step turns a memory layout's other order of sums into lr-sized moves."""
    config = tiny_config(STEPS, data__limit=400, training__grad_every=50, model__linear_path=False,
                         **{f"training__{name}": value for name, value in training.items()})
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    shape = tuple(data.images.shape[1:])
    model = training_network(config, data.images, train_index, torch.device("cpu"))
    trainer = Trainer(config=config, model=model, objective=build_objective(config, shape, total_steps=STEPS),
                      images=data.images, train_index=train_index, val_index=val_index,
                      device=torch.device("cpu"), callbacks=[])
    if adam == "reference":
        trainer.optimizer = torch.optim.Adam(trainer.optimizer.param_groups[0]["params"], lr=config.training.lr,
                                             foreach=False)
    trainer.fit()
    return trainer


def assert_same_run(a: Trainer, b: Trainer) -> None:
    for name, value in a.val_metrics.items():
        assert b.val_metrics[name] == pytest.approx(value, rel=1e-4, abs=1e-6, nan_ok=True), name
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(q.contiguous(), p.contiguous(), rtol=1e-4, atol=1e-5, msg=name)


@pytest.fixture(scope="module")
def plain() -> Trainer:
    return trained(channels_last=False)


def test_channels_last_trains_the_same(plain):
    other = trained(channels_last=True)
    first_conv = next(m for m in other.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert_same_run(plain, other)


def test_fused_adam_matches_the_reference_update(plain):
    assert plain.optimizer.defaults["fused"]
    assert_same_run(plain, trained(adam="reference", channels_last=False))


def test_channels_last_is_the_default():
    assert TrainingConfig().channels_last


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") != "libc.so.6",
                    reason="keep_freed_memory needs glibc")
def test_keep_freed_memory_applies_on_glibc():
    assert keep_freed_memory()
    assert keep_freed_memory()  # idempotent: every Trainer on the CPU calls it


def test_amp_trains_in_bfloat16_to_the_same_losses(plain):
    amp = trained(channels_last=False, amp=True)
    with amp.autocast():
        assert amp.model.conv_in(amp.batch(amp.val_index[:2])).dtype == torch.bfloat16
    for name in ("loss", "recon", "elbo", "mse"):
        assert amp.val_metrics[name] == pytest.approx(plain.val_metrics[name], rel=0.02), name
    assert amp.val_metrics["kl"] == pytest.approx(plain.val_metrics["kl"], abs=0.01)  # nats, beside a loss of ~40


@pytest.fixture
def cheap_compile(monkeypatch):
    """torch.compile as the trainer calls it, with the aot_eager backend: TorchDynamo captures the graphs
    and AOTAutograd traces their backward as for inductor, without inductor's C++ code generation (which
    takes minutes on a small CPU). Yields the counter of the graphs compiled."""
    counter = CompileCounterWithBackend("aot_eager")
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **options: compile_(model, **{**options, "backend": counter}))
    yield counter
    torch._dynamo.reset()


def test_compile_trains_the_same(plain, cheap_compile):
    compiled = trained(channels_last=False, compile=True)
    assert cheap_compile.frame_count > 0  # the model ran as compiled graphs
    assert list(compiled.model.state_dict()) == list(plain.model.state_dict())  # compiled in place: same names
    assert_same_run(plain, compiled)


def test_the_device_options_have_flags(tmp_path):
    def training(*flags: str) -> TrainingConfig:
        args = build_parser().parse_args(["train", "--data", "digits", "--out", str(tmp_path), *flags])
        return config_from_args(args).training

    default = training()
    assert (default.amp, default.channels_last, default.compile) == (False, True, False)
    given = training("--amp", "--no-channels-last", "--compile")
    assert (given.amp, given.channels_last, given.compile) == (True, False, True)
    assert training("--channels-last").channels_last and not training("--no-amp").amp


@pytest.mark.parametrize("recon, beta", [("sse", 2.0), ("sse", 0.0), ("mse-mean", 2.0), ("gaussian", 1.0),
                                         ("bernoulli", 1.0), ("sigma-learned", 1.0), ("sigma-optimal", 1.0)])
def test_nll_and_mse_from_the_recon_term_equal_a_second_pass(recon, beta):
    torch.manual_seed(0)
    x, logits = torch.rand(4, 3, 8, 8), 2 * torch.randn(4, 3, 8, 8)  # (B, C, H, W)
    likelihood = make_likelihood(ObjectiveConfig(recon=recon, beta=beta, sigma=0.3), (3, 8, 8))
    recon_term = likelihood.recon(x, logits)  # (B,)
    torch.testing.assert_close(likelihood.nll_given_recon(x, logits, recon_term), likelihood.nll(x, logits))
    mse = (x - torch.sigmoid(logits)).pow(2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(likelihood.mse_given_recon(x, logits, recon_term), mse)
