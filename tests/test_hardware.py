"""What tfstyle asks of TensorFlow per CPU kind: oneDNN where TensorFlow would leave it off."""

import os
import subprocess
import sys

import pytest

from tfstyle import hardware

CODE = ("import os{pre}; import tfstyle; from tfstyle import hardware; "
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), hardware.onednn_enabled())")


def _run(pre: str = "", **env) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k != hardware.ONEDNN_ENV}
    r = subprocess.run([sys.executable, "-c", CODE.format(pre=pre)], capture_output=True, text=True,
                       env={**base, **env}, timeout=120)
    assert r.returncode == 0, r.stderr[-1000:]
    return r.stdout.split()


def _avx2_without_avx512() -> bool:
    flags = hardware.cpu_flags()
    return "avx2" in flags and "avx512f" not in flags


def test_import_turns_onednn_on_where_tensorflow_leaves_it_off():
    """On an AVX2 CPU without AVX-512 importing tfstyle first sets TF_ENABLE_ONEDNN_OPTS=1 and
    TensorFlow then runs oneDNN; elsewhere the variable is left unset."""
    var, enabled = _run()
    if _avx2_without_avx512():
        assert (var, enabled) == ("1", "True")
    else:
        assert var == "None"


def test_the_users_setting_and_an_earlier_tensorflow_win():
    assert _run(TF_ENABLE_ONEDNN_OPTS="0") == ["0", "False"]
    var, _ = _run(pre="; import tensorflow")
    assert var == "None"  # TensorFlow already decided: nothing is set behind its back


@pytest.mark.parametrize("flags,expected", [({"avx2", "fma"}, True), ({"avx2", "avx512f"}, False),
                                            ({"neon", "asimd"}, False)])
def test_prefer_onednn_only_on_avx2_without_avx512(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setenv(hardware.ONEDNN_ENV, "")  # recorded, so the test's own setting is undone
    monkeypatch.delenv(hardware.ONEDNN_ENV)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert hardware.prefer_onednn() is expected
    assert (os.environ.get(hardware.ONEDNN_ENV) == "1") is expected


@pytest.mark.parametrize("flags,env,warns", [({"avx2", "fma"}, None, True), ({"avx2", "fma"}, "0", False),
                                             ({"avx2", "avx512f"}, None, False), ({"neon"}, None, False)])
def test_tensorflow_imported_first_warns_where_onednn_was_wanted(monkeypatch, flags, env, warns):
    """TensorFlow is in sys.modules here: where tfstyle would have asked for oneDNN, it says it could not;
    the user's own setting or another CPU stays silent."""
    import warnings

    import tensorflow  # noqa: F401 - the situation under test

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setenv(hardware.ONEDNN_ENV, "")
    if env is None:
        monkeypatch.delenv(hardware.ONEDNN_ENV)
    else:
        monkeypatch.setenv(hardware.ONEDNN_ENV, env)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hardware.prefer_onednn() is False
    found = [w for w in caught if issubclass(w.category, hardware.OneDNNWarning)]
    assert len(found) == int(warns)
    if warns:
        assert "import tfstyle first" in str(found[0].message) and hardware.ONEDNN_ENV not in os.environ


def test_the_warning_reaches_a_program_that_imports_tensorflow_first():
    code = "import tensorflow; import tfstyle"
    base = {k: v for k, v in os.environ.items() if k != hardware.ONEDNN_ENV}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base, timeout=120)
    assert r.returncode == 0, r.stderr[-1000:]
    assert ("OneDNNWarning" in r.stderr) is _avx2_without_avx512()


@pytest.mark.parametrize("onednn", [True, False])
def test_the_cpu_decisions_follow_the_kernel_library(monkeypatch, onednn):
    """hardware.py is the one place that reads the CPU: the convolution decisions follow oneDNN."""
    from tfstyle.config import WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_CHANNELS_ONEDNN
    from tfstyle.kernels.winograd import wide_enough

    monkeypatch.setattr(hardware, "onednn_enabled", lambda: onednn)
    assert hardware.winograd_min_channels() == (WINOGRAD_MIN_CHANNELS_ONEDNN if onednn else WINOGRAD_MIN_CHANNELS)
    assert wide_enough(WINOGRAD_MIN_CHANNELS_ONEDNN) is onednn and wide_enough(WINOGRAD_MIN_CHANNELS)
    assert hardware.winograd_products_transposed() is onednn
    assert hardware.transposed_convolutions_faster() is onednn
    assert hardware.unfolds_convolutions() is not onednn
    # Winograd by default only for float32 plain chains on a CPU.
    import tensorflow as tf

    on_cpu = not tf.config.list_physical_devices("GPU")
    assert hardware.winograd_by_default("float32", chain=True) == on_cpu
    assert not hardware.winograd_by_default("float32", chain=False)
    assert not hardware.winograd_by_default("mixed_bfloat16", chain=True)
