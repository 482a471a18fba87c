"""The layer picture of docs/architecture.md, enforced on the imports themselves (parsed with ``ast``, so an import
inside a function counts too).

    latent_core            never imports app (and data/ and encoders/ never import each other: resources.py)
    app/services           calls latent_core; never imports app/components or app/views
    app/components         draws; never imports torch or app/services
    app/views              draw what services return; never import torch or latent_core beyond its error types
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VIEW_ALLOWED_CORE = ("latent_core.errors",)  # a view catches the library's typed errors, nothing else


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in a file (``from x import y`` gives ``x`` and ``x.y``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(folder: str, forbidden) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {module}"
            for path in files(folder) for line, module in imports(path) if forbidden(module)]


def test_the_parser_sees_every_kind_of_import(tmp_path):
    """The checks below are only as good as this: top-level, aliased, from-, and function-local imports."""
    source = tmp_path / "sample.py"
    source.write_text("import torch as t\nfrom app.services import spaces\n\ndef f():\n    import latent_core.maps\n"
                      "from . import sibling\n")
    found = {module for _, module in imports(source)}
    assert {"torch", "app.services", "app.services.spaces", "latent_core.maps"} <= found
    assert not any("sibling" in module for module in found)  # relative imports stay inside their package


def test_the_folders_exist():
    for folder in ("latent_core", "app/services", "app/components", "app/views"):
        assert files(folder), folder


def test_latent_core_never_imports_the_app():
    assert violations("latent_core", lambda m: within(m, "app") or within(m, "streamlit")) == []


@pytest.mark.parametrize("first,second", [("data", "encoders"), ("encoders", "data")])
def test_datasets_and_encoders_do_not_reach_into_each_other(first, second):
    """What both need (packaged resources, the hub) lives in latent_core/resources.py."""
    assert violations(f"latent_core/{first}", lambda m: within(m, f"latent_core.{second}")) == []


def test_services_never_import_components_or_views():
    assert violations("app/services", lambda m: within(m, "app.components") or within(m, "app.views")) == []


def test_components_never_import_torch_or_services():
    assert violations("app/components", lambda m: within(m, "torch") or within(m, "app.services")) == []


def test_views_never_import_torch_or_library_math():
    def forbidden(module: str) -> bool:
        if within(module, "torch"):
            return True
        return within(module, "latent_core") and not any(within(module, ok) for ok in VIEW_ALLOWED_CORE)

    assert violations("app/views", forbidden) == []


def test_each_view_has_a_service_module_of_its_name():
    """``app/services`` mirrors ``app/views``: a page's services are found under the page's name."""
    services = {path.stem for path in files("app/services")}
    for view in files("app/views"):
        used = {module.split(".")[2] for _, module in imports(view) if module.startswith("app.services.")}
        assert view.stem in services, view
        assert used <= services, (view, used - services)
