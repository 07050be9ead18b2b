"""Grid axes: parsing (YAML scalars), the product of the axes, and run names that are safe folder names."""

import pytest

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.numbers import format_value
from vaelab.sweep.grid import Axis, grid_points, parse_axes, parse_axis, run_name, run_names
from vaelab.sweep.plan import plan_sweep


def test_values_are_yaml_scalars_and_exponents_are_floats():
    axis = parse_axis("objective.beta=0, 0.03,1e-3,1.5e2,true,null,sse")
    assert axis.key == "objective.beta" and axis.label == "beta"
    assert axis.values == (0, 0.03, 0.001, 150.0, True, None, "sse")
    assert [type(v) for v in axis.values[:4]] == [int, float, float, float]


def test_the_product_runs_the_first_axis_outermost():
    axes = parse_axes(["objective.beta=0.1,1", "model.latent_dim=32,128"])
    assert grid_points(axes) == [
        {"objective.beta": 0.1, "model.latent_dim": 32},
        {"objective.beta": 0.1, "model.latent_dim": 128},
        {"objective.beta": 1, "model.latent_dim": 32},
        {"objective.beta": 1, "model.latent_dim": 128},
    ]
    assert run_names(grid_points(axes), axes) == [
        "beta=0.1,latent_dim=32", "beta=0.1,latent_dim=128", "beta=1,latent_dim=32", "beta=1,latent_dim=128",
    ]


@pytest.mark.parametrize("value,shown", [(0.1, "0.1"), (1e-05, "1e-05"), (3.0, "3"), (0, "0"),
                                         (0.123456789, "0.123456789"), (True, "true"), (None, "null"), ("sse", "sse")])
def test_values_in_names(value, shown):
    assert format_value(value) == shown


def test_names_are_safe_folder_names_and_keep_axes_apart():
    axes = [Axis("data.spec", ("../data/art works:v2",)), Axis("objective.recon", ("sse",))]
    name = run_name({"data.spec": "../data/art works:v2", "objective.recon": "sse"}, axes)
    assert name == "spec=.._data_art_works_v2,recon=sse" and "/" not in name
    same_label = [Axis("data.image_size", (16,)), Axis("model.image_size", (16,))]
    assert run_name({"data.image_size": 16, "model.image_size": 16}, same_label) == \
        "data.image_size=16,model.image_size=16"
    clash = [Axis("data.spec", ("a/b", "a:b"))]
    with pytest.raises(UsageError, match="share the folder"):
        run_names(grid_points(clash), clash)


@pytest.mark.parametrize("texts,message", [
    ([], "say what to sweep"),
    (["objective.beta"], "is not KEY=V1,V2"),
    (["=1,2"], "is not KEY=V1,V2"),
    (["objective.beta=0.1,,1"], "empty value"),
    (["objective.beta=1,1.0"], "lists 1 more than once"),
    (["objective.beta=[1,2]"], "not a YAML scalar"),
    (["objective.beta=1", "objective.beta=2"], "given twice"),
])
def test_bad_axes(texts, message):
    with pytest.raises(UsageError, match=message):
        parse_axes(texts)


def test_every_run_config_is_checked_before_anything_runs(tmp_path):
    base = Config().with_updates({"data.spec": "digits"})
    with pytest.raises(UsageError, match="unknown config key 'objective.betta'"):
        plan_sweep(base, parse_axes(["objective.betta=1,2"]), tmp_path)
    with pytest.raises(UsageError, match=r"run beta=-1: objective.beta=-1.0 must be >= 0"):
        plan_sweep(base, parse_axes(["objective.beta=1,-1"]), tmp_path)
    plan = plan_sweep(base, parse_axes(["objective.beta=0,1", "training.lr=1e-3"]), tmp_path)
    assert [run.run_dir.relative_to(tmp_path).as_posix() for run in plan.runs] == ["runs/beta=0,lr=0.001",
                                                                                   "runs/beta=1,lr=0.001"]
    assert plan.runs[0].config.objective.beta == 0.0 and plan.runs[1].config.training.lr == 0.001
