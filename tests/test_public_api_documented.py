"""Every public module, class and function of mixlens has a docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import mixlens


def _public_modules() -> list[str]:
    names = [mixlens.__name__]
    for info in pkgutil.walk_packages(mixlens.__path__, prefix="mixlens."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def test_public_names_have_docstrings() -> None:
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        if not (module.__doc__ or "").strip():
            missing.append(module_name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{module_name}.{name}")
    assert missing == [], f"undocumented public names: {missing}"
