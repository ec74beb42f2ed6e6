"""The package's shape: no import cycles (lazy imports inside functions included), imports pointing
down the layers, the public names the README documents, and ``import tfstyle`` without TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

import tfstyle

PACKAGE = Path(tfstyle.__file__).parent

# The layers, top to bottom: a module may import from its own layer or the ones below it.
LAYERS = [
    {"cli"},
    {"video", "cluster"},
    {"optimize", "feedforward", "export", "web"},
    {"objective", "backbones"},
    {"kernels"},
    {"io", "progress", "hardware", "tape"},
    {"config"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """tfstyle modules ``path`` imports, anywhere in the file (module level or inside functions)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tfstyle"):
                continue
            for alias in node.names:  # "from . import images" imports a module
                sub = f"{target}.{alias.name}"
                out.add(sub if _exists(sub) else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("tfstyle"))
    out.discard(name)
    return {m for m in out if _exists(m)}


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for i, group in enumerate(LAYERS):
        if parts[1] in group:
            return i
    return None


def test_imports_point_down_the_layers():
    bad = []
    for module, targets in _graph().items():
        here = _layer(module)
        for target in targets:
            there = _layer(target)
            if here is not None and there is not None and there < here:
                bad.append(f"{module} -> {target}")
    assert not bad, bad


def test_every_module_belongs_to_a_layer():
    known = set().union(*LAYERS) | {"__init__", "__main__"}
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*") if p.name != "__pycache__"}
    assert tops <= known, tops - known


def test_public_api_names():
    for name in ["stylize", "Stylizer", "MultiScaleStylizer", "StylizeConfig", "StylizeResult", "Progress",
                 "RunState", "train", "Trainer", "TrainConfig", "TrainResult", "ApplyConfig", "ExportConfig",
                 "StyleModel", "apply_files", "export_model", "load_image", "save_image", "resolve_weights",
                 "FeatureExtractor", "get_backbone", "save_state", "load_state"]:
        assert getattr(tfstyle, name) is not None, name
    assert callable(tfstyle.train) and tfstyle.train.__module__ == "tfstyle.feedforward.train"


def test_import_tfstyle_loads_no_tensorflow():
    code = "import sys, tfstyle, tfstyle.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_the_image_module_has_no_pypi_package_name():
    """``imageio`` is a PyPI package: the package's image module is never imported under that name."""
    for path in PACKAGE.rglob("*.py"):
        assert "imageio" not in path.read_text(), path


def test_planners_take_the_network_object_and_never_look_it_up_by_name():
    """The rooms above the backbones are handed a ``Backbone`` (the extractor's); only the command line
    (checks before TensorFlow loads), the backbones themselves, and the builder of an arbitrary-style
    model's prediction network (a model folder stores that network's name, as a flag gives the loss
    network's: it is turned into a Backbone once, where the network is built) turn a name into one."""
    readers_of_stored_names = ("tfstyle.feedforward.arbitrary",)
    lookups = []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and any(a.name == "get" for a in node.names):
                target = "tfstyle.backbones" if (node.module or "").endswith("backbones") or (
                    node.level == 1 and module.startswith("tfstyle.backbones") and not node.module) else ""
                if target and not module.startswith(("tfstyle.backbones", "tfstyle.cli")) and module != "tfstyle" \
                        and module not in readers_of_stored_names:
                    lookups.append(module)
    assert not lookups, lookups
