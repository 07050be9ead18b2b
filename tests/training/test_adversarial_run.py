"""A run with the PatchGAN term: the discriminator trains on its own optimiser from gan_start, checkpoints carry
both, and a resumed run ends with exactly the numbers of an uninterrupted one."""

import torch

from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training.run import train

from factories import tiny_config


def gan_config(steps, **updates):
    return tiny_config(steps, objective__gan_weight=0.5, objective__gan_layers=2, objective__gan_start=6,
                       training__log_every=3, training__val_every=6, training__lr_schedule="constant", **updates)


def discriminator_of(state):
    return {name: tensor for name, tensor in state["objective"].items() if name.startswith("adversarial.discriminator")}


def test_the_discriminator_trains_from_its_start_step_and_checkpoints_carry_it(tmp_path):
    train(gan_config(5), tmp_path / "before")
    train(gan_config(12), tmp_path / "after")
    initial = discriminator_of(load_checkpoint(tmp_path / "before" / "checkpoints" / "last.pt"))
    state = load_checkpoint(tmp_path / "after" / "checkpoints" / "last.pt")
    trained = discriminator_of(state)
    assert initial.keys() == trained.keys() and len(initial) > 0
    assert any(not torch.equal(initial[name], trained[name]) for name in initial)  # it trained after step 6
    adam = state["objective"]["adversarial._extra_state"]["optimizer"]
    assert len(adam["state"]) == len(trained) and all(int(s["step"]) == 6 for s in adam["state"].values())
    assert not any(name.startswith("adversarial") for name in state["model"])
    records = [r for r in read_metrics(tmp_path / "after" / "metrics.jsonl") if r["split"] == "train"]
    assert [r["gan_lambda"] == 0 for r in records] == [True, True, False, False]  # steps 3, 6 | 9, 12
    assert all(r["gan_lambda"] > 0 for r in records[2:])


def test_the_models_optimiser_holds_no_discriminator_weight(tmp_path):
    state = load_checkpoint(train(gan_config(3), tmp_path / "run").run_dir / "checkpoints" / "last.pt")
    held = sum(len(group["params"]) for group in state["optimizer"]["param_groups"])
    # every model parameter (not its buffers: the linear path's mean image) and none of the objective's
    assert held == len([name for name in state["model"] if name != "mean_image"])


def test_a_resumed_run_ends_with_the_numbers_of_an_uninterrupted_one(tmp_path):
    full = train(gan_config(16), tmp_path / "full")
    assert train(gan_config(9), tmp_path / "resumed").steps == 9
    resumed = train(gan_config(16), tmp_path / "resumed", resume=True)
    assert resumed.metrics == full.metrics
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for name, tensor in {**discriminator_of(a), **a["model"]}.items():
        assert torch.equal(tensor, {**discriminator_of(b), **b["model"]}[name]), name
    logged = lambda run: [r for r in read_metrics(tmp_path / run / "metrics.jsonl") if r["split"] == "train"]
    assert [r["disc_loss"] for r in logged("resumed")] == [r["disc_loss"] for r in logged("full")]
