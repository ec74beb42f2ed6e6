"""Image optimisers are chosen through ``tfstyle.config.OPTIMIZERS_REGISTRY``: a new one is a ``Run``
subclass and one entry, and the loop lookup, the checks, the memory plan, tiling and saved states all
follow the entry."""

import numpy as np
import pytest

from tfstyle.config import OPTIMIZERS_REGISTRY, ConfigError, OptimizerEntry, StylizeConfig
from tfstyle.optimize.loops import Run, loop_class
from tfstyle.optimize.memory import optimizer_bytes, tiled_optimizer


class DescentRun(Run):
    """Projected gradient descent with a step of a fixed size in the largest pixel: an optimiser in
    a dozen lines, no state of its own."""

    def loop(self) -> None:
        import tensorflow as tf

        x = tf.constant(self.best_image[None])
        while self.step < self.steps:
            total, parts, grad = self.st._value_and_grad(x)
            self.evaluations += 1
            loss = float(total)
            if self.nonfinite(loss):
                return
            if loss < self.best_loss:
                self.best_loss, self.best_image = loss, x.numpy()[0]
            self.record(loss, {k: float(v) for k, v in parts.items()})
            x = tf.clip_by_value(x - 0.02 * grad / (tf.reduce_max(tf.abs(grad)) + 1e-12), 0.0, 1.0)


@pytest.fixture
def descent(monkeypatch):
    monkeypatch.setitem(OPTIMIZERS_REGISTRY, "descent", OptimizerEntry(f"{__name__}:DescentRun", state_bytes=0))
    return "descent"


def test_the_registry_decides_the_loop_the_checks_and_the_memory_plan(descent):
    assert loop_class("adam").__name__ == "AdamRun" and loop_class("lbfgs").__name__ == "LBFGSRun"
    assert loop_class(descent) is DescentRun
    StylizeConfig(optimizer=descent).validate()
    with pytest.raises(ConfigError, match="optimizer must be one of lbfgs, adam, descent"):
        StylizeConfig(optimizer="newton").validate()
    assert optimizer_bytes((10, 20), descent) == 0
    assert optimizer_bytes((10, 20), "lbfgs") > optimizer_bytes((10, 20), "adam") > 0
    # Tiled scales run an optimiser that takes the moving tile grid's objective.
    assert tiled_optimizer(descent) == tiled_optimizer("lbfgs") == tiled_optimizer("adam") == "adam"


@pytest.mark.slow
def test_a_registered_optimizer_runs_a_stylisation_and_its_state_resumes(descent, tmp_path, content_path,
                                                                         style_path):
    from tfstyle.io.images import load_image
    from tfstyle.io.state import load_state, save_state
    from tfstyle.optimize.multiscale import MultiScaleStylizer

    cfg = StylizeConfig(size=48, steps=4, optimizer=descent, precision="float32", backbone="random",
                        conv_algorithm="direct", style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0)),
                        content_layers=("block2_conv2",))
    res = MultiScaleStylizer(load_image(content_path), load_image(style_path), cfg).run()
    total = res.history["total"]
    assert res.stop_reason == "done" and res.steps == 4 and len(total) == 4
    assert np.isfinite(total).all() and total[-1] < total[0]
    assert res.state.optimizer == descent
    save_state(res.state, tmp_path / "state.npz")
    assert load_state(tmp_path / "state.npz").optimizer == descent
