"""Hand-written input gradients, recorded on TensorFlow's gradient tapes.

Where autodiff's gradient of an op is correct but slower than a formula (a Winograd convolution, a
Gram matrix), :func:`record` tells the tapes that ``y`` came from ``x`` with a given backward
function. This is what ``tf.custom_gradient`` does in eager mode; inside a ``tf.function`` it would
also file the gradient function in TensorFlow's global gradient registry, which holds the traced
graph for good, and with it whatever the function captured (Winograd's transformed kernels, again
at every stylize call in one process; bench/results/decisions.md). Recording on the tapes alone keeps the function only
as long as the tape.
"""

from __future__ import annotations


def record(name: str, y, x, backward) -> None:
    """Record ``y = f(x)`` on the active tapes with ``backward(dy) -> [dx]``. ``y`` must be computed
    from ``tf.stop_gradient(x)`` (so the tapes hold no other path) and be a fresh tensor."""
    from tensorflow.python.eager import record as tape_record  # what tf.custom_gradient uses

    tape_record.record_operation(name, [y], [x], backward)


__all__ = ["record"]
