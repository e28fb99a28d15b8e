"""Your own network, loaded by reference: `FILE.py:FUNCTION` or `package.module:FUNCTION`.

`load_model(ref, num_classes, in_channels)` calls FUNCTION(num_classes=..., in_channels=...) (in_channels only
when its signature takes it or **kwargs) and returns the module; `model_source(ref)` says what was loaded (file,
function, the file's sha256) for the record. Every fault is a `common.cli.UsageError` of one line naming the
thing: a file or module that does not exist or does not import, a missing or non-callable function, a function
without `num_classes`, one that raises (its exception type and text), a return value that is not an `nn.Module`.
What to convert is checked by `spectrum.convert.convertible` (no kxk conv, an `only` that matches none), with
the same kind of error. A study calls, per point, `load_model` then `spectrum.convert.convert(...)`, and lists the
positions with `spectrum.convert.allowed_positions`.

A file is imported as a module named after its absolute path (`_user_model_<hash>`), with its folder on
`sys.path` while it imports (so it may import its neighbours); each load imports it afresh.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass

from torch import nn

from common.cli import UsageError, folded

__all__ = ["ModelRef", "load_function", "load_model", "model_source", "parse_ref"]


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: `source` is a file path (`is_file`) or a dotted module name; `function` its name."""

    source: str
    function: str

    @property
    def is_file(self) -> bool:
        return self.source.endswith(".py") or os.sep in self.source or "/" in self.source

    def __str__(self) -> str:
        return f"{self.source}:{self.function}"


def parse_ref(ref) -> ModelRef:
    """'FILE.py:FUNCTION' or 'package.module:FUNCTION' -> ModelRef; a UsageError for anything else."""
    if isinstance(ref, ModelRef):
        return ref
    source, sep, function = str(ref).rpartition(":")
    if not sep or not source or not function.isidentifier():
        raise UsageError(f"model {ref!r} is not FILE.py:FUNCTION or package.module:FUNCTION")
    return ModelRef(source, function)


def _import_file(path: str):
    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} does not exist")
    full = os.path.abspath(path)
    name = "_user_model_" + hashlib.sha1(full.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(full))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file: one line
        sys.modules.pop(name, None)
        raise UsageError(f"model file {path!r} failed to import: {type(exc).__name__}: {folded(exc)}") from None
    finally:
        sys.path.remove(os.path.dirname(full))
    return module


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):  # the module itself (or a parent package) is missing
            raise UsageError(f"model module {name!r} does not exist (no module named {exc.name!r})") from None
        raise UsageError(f"model module {name!r} failed to import: ModuleNotFoundError: {folded(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module: one line
        raise UsageError(f"model module {name!r} failed to import: {type(exc).__name__}: {folded(exc)}") from None


def load_function(ref):
    """The callable a reference names; a UsageError when its file or module or the function is missing."""
    ref = parse_ref(ref)
    module = _import_file(ref.source) if ref.is_file else _import_module(ref.source)
    fn = getattr(module, ref.function, None)
    if fn is None:
        names = sorted(n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
                       and v.__module__ == module.__name__)
        raise UsageError(f"{ref.source!r} has no function {ref.function!r}; "
                         f"its functions: {', '.join(names) or 'none'}")
    if not callable(fn):
        raise UsageError(f"{ref} is not a function (a {type(fn).__name__})")
    return fn


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature (a builtin): pass the argument and let it say
        return True
    return any(p.name == name and p.kind != p.POSITIONAL_ONLY or p.kind == p.VAR_KEYWORD for p in params)


def load_model(ref, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """FUNCTION(num_classes=num_classes[, in_channels=in_channels]) of the reference; a UsageError (one line)
    when it cannot be loaded, takes no num_classes, raises, or returns something other than an nn.Module."""
    ref = parse_ref(ref)
    fn = load_function(ref)
    if not _accepts(fn, "num_classes"):
        raise UsageError(f"{ref} takes no num_classes argument; expected {ref.function}(num_classes, in_channels)")
    kwargs = {"num_classes": num_classes, **({"in_channels": in_channels} if _accepts(fn, "in_channels") else {})}
    try:
        model = fn(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's function: one line naming the call
        call = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        raise UsageError(f"{ref.function}({call}) from {ref.source!r} raised {type(exc).__name__}: "
                         f"{folded(exc)}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"{ref} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _file_of(ref: ModelRef) -> str:
    if ref.is_file:
        if not os.path.isfile(ref.source):
            raise UsageError(f"model file {ref.source!r} does not exist")
        return ref.source
    spec = None
    try:
        spec = importlib.util.find_spec(ref.source)
    except (ImportError, ValueError):
        pass
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise UsageError(f"model module {ref.source!r} does not exist or has no file")
    origin = os.path.abspath(spec.origin)
    inside = not os.path.relpath(origin).startswith(os.pardir)
    return os.path.relpath(origin) if inside else origin


def model_source(ref) -> dict:
    """{file, function, sha256}: the file a reference loads (a module's file relative to the working folder when
    inside it), the function's name and the sha256 of the file's bytes, for recording with results."""
    ref = parse_ref(ref)
    path = _file_of(ref)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"file": path, "function": ref.function, "sha256": digest}
