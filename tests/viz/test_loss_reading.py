"""The run page's reading of beta for the reconstruction terms that are not a Gaussian's."""

from vaelab.run_dir.summary import RunSummary
from vaelab.viz.beta_reading import beta_reading

from factories import tiny_config


def reading_of(tmp_path, **objective):
    config = tiny_config(5, data__channels=1, **{f"objective__{k}": v for k, v in objective.items()})
    return beta_reading(RunSummary(run_dir=tmp_path, config=config, records=[]))


def test_a_loss_that_is_not_a_likelihood_is_read_as_no_noise_level(tmp_path):
    for fields in ({"recon": "ms-ssim"}, {"recon": "sse", "recon_extra": "focal-frequency"}):
        reading = reading_of(tmp_path, beta=0.01, **fields)
        assert reading["reading"] is None and not reading["laplace"]
        text = " ".join(text for _, text in reading["loss_blocks"])
        assert "no longer holds" in text and "elbo_optimal_sigma" in text


def test_l1_is_read_as_a_laplace_scale(tmp_path):
    reading = reading_of(tmp_path, recon="l1", beta=0.1)
    assert reading["laplace"]
    assert ("sigma", "implied Laplace decoder: scale b = 0.1, std sqrt(2) b = 0.14 on a 0-1 scale (36 on 0-255)"
            ) in reading["loss_blocks"]
