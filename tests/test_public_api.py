"""The public surface: modules declare __all__, and the root re-exports them."""

from __future__ import annotations

import importlib
import inspect
import types as pytypes

import ocpp16

# Modules whose whole __all__ is the package's API, re-exported by the root.
REEXPORTED = ["ocpp16.errors"]
# Public modules reached as ocpp16.<module>, each declaring __all__.
PUBLIC_MODULES = [
    "ocpp16.errors",
    "ocpp16.protocol",
    "ocpp16.validation",
    "ocpp16.schemas",
    "ocpp16.types",
    "ocpp16.security",
    "ocpp16.handshake",
    "ocpp16.registry",
    "ocpp16.cluster",
    "ocpp16.metrics",
    "ocpp16.chargepoint",
    "ocpp16.store",
    "ocpp16.testing",
    "ocpp16.testing.pytest_plugin",
    "ocpp16.handlers",
    "ocpp16.asgi",
]


def test_root_all_matches_its_names() -> None:
    """The root's __all__ lists exactly the public names it defines."""
    defined = {
        name
        for name, value in vars(ocpp16).items()
        if not name.startswith("_")
        and not (isinstance(value, pytypes.ModuleType) and name not in ocpp16.__all__)
    }
    assert set(ocpp16.__all__) == defined


def test_root_reexports_the_api_modules() -> None:
    """Every name in the __all__ of an API module is at the root, as the same object."""
    for module_name in REEXPORTED:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert name in ocpp16.__all__, f"{module_name}.{name} is not re-exported"
            assert getattr(ocpp16, name) is getattr(module, name)


def test_root_names_come_from_public_modules() -> None:
    """Each root name is declared in the __all__ of the module that defines it."""
    for name in ocpp16.__all__:
        value = getattr(ocpp16, name)
        if isinstance(value, pytypes.ModuleType):
            assert value.__name__ in PUBLIC_MODULES
            continue
        home = importlib.import_module(getattr(value, "__module__", "ocpp16"))
        if home.__name__ == "ocpp16":  # constants have no __module__
            continue
        assert name in home.__all__, f"{name} is not in {home.__name__}.__all__"


def test_public_modules_declare_all() -> None:
    """Every public module declares __all__, and each name in it exists and is documented."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert module.__doc__
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_readme_exports() -> None:
    """The exports the README promises are at the root."""
    for name in [
        "OcppError",
        "CallTimeout",
        "ConnectionClosed",
        "ValidationError",
        "Action",
        "schemas",
        "types",
    ]:
        assert name in ocpp16.__all__
