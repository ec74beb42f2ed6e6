"""The inter-op thread setting reaches TensorFlow (it must be applied before TensorFlow starts)."""

import subprocess
import sys

import pytest

from tfstyle import ConfigError, StylizeConfig

_CODE = """
import sys
import tensorflow as tf
import tfstyle
extra = {} if sys.argv[3] == "default" else {"inter_op_threads": int(sys.argv[3])}
tfstyle.stylize(sys.argv[1], sys.argv[2], tfstyle.StylizeConfig(size=32, steps=1, **extra))
print(tf.config.threading.get_inter_op_parallelism_threads())
"""


@pytest.mark.parametrize("given, expected", [("default", 1), ("0", 0), ("2", 2)])
def test_inter_op_threads_applied_before_tensorflow_starts(content_path, style_path, given, expected):
    r = subprocess.run([sys.executable, "-c", _CODE, str(content_path), str(style_path), given],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert int(r.stdout.strip().splitlines()[-1]) == expected


def test_negative_inter_op_threads_is_a_config_error():
    with pytest.raises(ConfigError, match="inter_op_threads"):
        StylizeConfig(inter_op_threads=-1).validate()


def test_cli_rejects_negative_inter_op_threads(tmp_path, content_path, style_path):
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path),
                        "-o", str(tmp_path / "o.png"), "--inter-op-threads", "-1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "inter_op_threads" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()
