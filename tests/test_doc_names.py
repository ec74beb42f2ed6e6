"""Every ``tfstyle.`` module or object that a docstring or comment in src/, README.md or a docs/ page
names exists. Names are resolved from the source itself (files, then the definitions, re-exports and
attributes each module's code binds), so the check imports nothing and takes well under a second."""

import ast
import re
from functools import lru_cache
from pathlib import Path

import tfstyle

PACKAGE = Path(tfstyle.__file__).parent
ROOT = PACKAGE.parents[1]
# A dotted tfstyle name; not part of a path (src/tfstyle/...), a file name (OUT.png.tfstyle-state.npz)
# or a longer identifier.
NAME = re.compile(r"(?<![\w./\\-])tfstyle(?:\.[A-Za-z_]\w*)+")
# Names that stand for any name in prose ("an API reference, ``::: tfstyle.name``").
PLACEHOLDERS = {"tfstyle.name"}


def _module_file(dotted: str) -> Path | None:
    rel = Path(*dotted.split("."))
    for path in (PACKAGE.parent / rel / "__init__.py", (PACKAGE.parent / rel).with_suffix(".py")):
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _targets(node) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    out = []
    for t in targets:
        out += [e.id for e in ast.walk(t) if isinstance(e, ast.Name)]
    return out


@lru_cache(maxsize=None)
def _bindings(dotted: str) -> dict:
    """``{name: node}`` a module binds at its top level: definitions, assignments, imports
    (``("import", module, name)``) and the names its ``__all__`` lists (lazy re-exports)."""
    path = _module_file(dotted)
    package = dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]
    out: dict = {}
    for node in _tree(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for name in _targets(node):
                out.setdefault(name, node)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                out[alias.asname or alias.name] = ("import", source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                out[(alias.asname or alias.name).split(".")[0]] = ("import", alias.name, None)
    lazy = out.get("__all__")
    if isinstance(lazy, (ast.Assign, ast.AnnAssign)):
        for e in ast.walk(lazy.value):
            if isinstance(e, ast.Constant) and isinstance(e.value, str):
                out.setdefault(e.value, lazy)
            elif isinstance(e, ast.Starred) and isinstance(e.value, ast.Name):
                table = out.get(e.value.id)  # e.g. *_LAZY: the keys of a dict literal
                if isinstance(table, ast.Assign) and isinstance(table.value, ast.Dict):
                    for k in table.value.keys:
                        out.setdefault(k.value, table)
    return out


def _class_members(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            names.update(_targets(item))
    for item in ast.walk(node):  # attributes set on self in any method
        if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and item.value.id == "self" \
                and isinstance(item.ctx, ast.Store):
            names.add(item.attr)
    return names


def _resolve_in(module: str, attrs: list[str]) -> bool:
    if not attrs:
        return True
    if _module_file(f"{module}.{attrs[0]}"):  # a submodule
        return _resolve_in(f"{module}.{attrs[0]}", attrs[1:])
    node = _bindings(module).get(attrs[0])
    if node is None:
        return False
    if isinstance(node, tuple):  # imported: follow it to where it is defined
        _, source, name = node
        if not source.startswith("tfstyle"):
            return len(attrs) == 1  # a name from another package: not followed further
        if name is None:
            return _resolve_in(source, attrs[1:])
        if _module_file(f"{source}.{name}"):
            return _resolve_in(f"{source}.{name}", attrs[1:])
        return _module_file(source) is not None and _resolve_in(source, [name] + attrs[1:])
    rest = attrs[1:]
    if not rest:
        return True
    if isinstance(node, ast.ClassDef) and rest[0] in _class_members(node):
        return True
    return False


def resolves(name: str) -> bool:
    return _resolve_in("tfstyle", name.split(".")[1:])


def _src_texts():
    """Docstrings and comments of every module under src/tfstyle, with where they are."""
    import io
    import tokenize

    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        tree = _tree(path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    yield f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}", doc
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield f"{path.relative_to(ROOT)}:{tok.start[0]}", tok.string


def _doc_texts():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    for page in pages:
        if page.is_file():
            for i, line in enumerate(page.read_text().splitlines(), 1):
                yield f"{page.relative_to(ROOT)}:{i}", line


def test_the_resolver_knows_real_names_from_missing_ones():
    for good in ["tfstyle.config", "tfstyle.config.StylizeConfig", "tfstyle.config.StylizeConfig.validate",
                 "tfstyle.config.OPTIMIZERS_REGISTRY", "tfstyle.video.stylize_video", "tfstyle.stylize",
                 "tfstyle.hardware.resolve_precision", "tfstyle.kernels.winograd.WinogradConv",
                 "tfstyle.backbones.extractor.FeatureExtractor.backbone", "tfstyle.progress.StylizeResult.image"]:
        assert resolves(good), good
    for bad in ["tfstyle.memory", "tfstyle.losses.gram", "tfstyle.config.NO_SUCH_SETTING",
                "tfstyle.backbones.winograd", "tfstyle.config.StylizeConfig.no_such_method"]:
        assert not resolves(bad), bad


def test_docstrings_comments_and_doc_pages_name_only_what_exists():
    missing = [f"{where}: {name}" for texts in (_src_texts(), _doc_texts()) for where, text in texts
               for name in NAME.findall(text) if name not in PLACEHOLDERS and not resolves(name)]
    assert not missing, "names that do not exist:\n" + "\n".join(missing)
