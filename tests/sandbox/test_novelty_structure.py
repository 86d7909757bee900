"""Near-identical means "only the program's own names differ" (issue 13, item 3).

Builtins, imported names and attributes of modules are part of the structure: ``max(``→``min(`` or an
imported ``sin``→``cos`` used to be classed as a rename-only duplicate and were never trained.
"""

from __future__ import annotations

import re

import pytest

from app.campaigns.novelty import NoveltyIndex, find_duplicate, structure_fingerprint
from app.db.fingerprint import code_fingerprint

BASE = '''
import numpy as np
import torch
from math import sin, cos


def features(x, width):
    """Random features."""
    scale = max(abs(x).max(), 1.0)
    return torch.sin(torch.as_tensor(x) / scale) * width


class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.layer = torch.nn.Linear(1, width)

    def forward(self, x):
        return self.layer(x)


def solve(task):
    x = task.query_inputs["x"][:, 0]
    total = 0.0
    for step in range(10):
        total += sin(step / 10)
    net = Net(8)
    peak = np.max(x)
    return features(x, 2.0).numpy() + total + peak
'''


def words(code: str, old: str, new: str) -> str:
    """Replace ``old`` as a whole word (identifiers only, not inside other names)."""
    return re.sub(r"(?<![\w.\"'])" + re.escape(old) + r"\b", new, code)


def is_rename(variant: str, original: str = BASE) -> bool:
    found = find_duplicate(variant, [(1, original)])
    return found is not None and found[1].startswith("near-identical")


@pytest.mark.parametrize("old, new", [
    ("max(abs(x)", "min(abs(x)"),              # a builtin
    ("abs(x)", "round(x)"),                     # another builtin
    ("range(10)", "reversed(10)"),
    ("sin(step / 10)", "cos(step / 10)"),       # an imported function, both imported
    ("torch.sin(", "torch.cos("),               # an attribute of a module
    ("np.max(x)", "np.min(x)"),
    ("def forward(", "def fwd("),               # a method: looked up by name
    ("def __init__(self, width)", "def setup(self, width)"),
])
def test_changing_what_a_name_refers_to_is_new(old, new):
    assert old in BASE
    variant = BASE.replace(old, new)
    assert find_duplicate(variant, [(1, BASE)]) is None
    assert structure_fingerprint(variant) != structure_fingerprint(BASE)


def test_an_imported_sin_replaced_by_cos_is_new():
    sin = "from math import sin\n\ndef solve(task):\n    return sin(task.query_inputs['x'])\n"
    assert find_duplicate(sin.replace("sin", "cos"), [(1, sin)]) is None
    aliased = "from math import sin as f\n\ndef solve(task):\n    return f(task.query_inputs['x'])\n"
    assert find_duplicate(aliased.replace("import sin", "import cos"), [(1, aliased)]) is None
    assert find_duplicate(aliased.replace("math", "cmath"), [(1, aliased)]) is None


def test_a_module_replaced_by_another_is_new():
    assert find_duplicate(BASE.replace("import numpy as np", "import jax.numpy as np"), [(1, BASE)]) is None


@pytest.mark.parametrize("old, new", [
    ("x", "inputs"),          # a local variable and an argument
    ("total", "acc"),
    ("step", "i"),            # a loop variable
    ("features", "embed"),    # a function the program defines
    ("width", "n_hidden"),    # an argument
    ("Net", "Model"),         # a class the program defines
    ("net", "model"),
    ("np", "xp"),             # an import alias: what it imports is the same
])
def test_renaming_the_programs_own_names_is_near_identical(old, new):
    variant = words(BASE, old, new)
    assert variant != BASE
    assert is_rename(variant)


def test_all_renames_at_once_and_an_unaliased_import_are_near_identical():
    variant = BASE
    for old, new in [("x", "u"), ("total", "s"), ("features", "phi"), ("Net", "M"), ("scale", "c")]:
        variant = words(variant, old, new)
    variant = variant.replace("import numpy as np", "import numpy").replace("np.max", "numpy.max")
    assert is_rename(variant)


def test_renaming_is_a_bijection():
    two = "def solve(task):\n    a = 1\n    b = 2\n    return a + b\n"
    one = "def solve(task):\n    a = 1\n    a = 2\n    return a + a\n"
    assert find_duplicate(one, [(1, two)]) is None
    assert is_rename(two.replace("a", "first").replace("b", "second"), two)


def test_a_local_name_that_shadows_a_builtin_is_renamable():
    code = "def solve(task):\n    max = task.seed\n    return max + 1\n"
    assert is_rename(code.replace("max", "top"), code)


def test_the_entry_point_and_keywords_keep_their_names():
    assert find_duplicate(BASE.replace("def solve(", "def run("), [(1, BASE)]) is None
    code = "import torch\n\ndef solve(task, lr=1e-3):\n    return torch.optim.Adam([], lr=lr)\n"
    assert find_duplicate(code.replace("lr=lr", "betas=lr"), [(1, code)]) is None


def test_a_name_both_imported_and_assigned_is_kept_as_written():
    code = "try:\n    import torch\nexcept ImportError:\n    torch = None\n\ndef solve(task):\n    return torch\n"
    assert find_duplicate(code.replace("torch", "tt"), [(1, code)]) is None
    assert structure_fingerprint(code) == structure_fingerprint(code + "\n# comment\n")


def test_the_index_uses_the_same_rule():
    index = NoveltyIndex()
    codes = {1: BASE}

    def load(ids):
        return {i: codes[i] for i in ids}

    others = [(1, code_fingerprint(BASE))]
    assert index.find(BASE.replace("np.max(x)", "np.min(x)"), others, load) is None
    assert index.find(words(BASE, "total", "acc"), others, load) == (1, "near-identical (only names differ)")
