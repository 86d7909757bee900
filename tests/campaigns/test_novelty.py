from app.campaigns.novelty import find_duplicate

BASE = '''
import torch

def solve(task):
    """Fit it."""
    lr = 1e-3  # learning rate
    net = make(task, width=64)
    return train(net, lr)
'''


def test_identical_modulo_comments_and_formatting():
    variant = BASE.replace("# learning rate", "").replace("width=64", "width = 64").replace('"""Fit it."""', "")
    assert find_duplicate(variant, [(7, BASE)]) == (7, "identical")


def test_consistent_renaming_is_near_identical():
    variant = BASE.replace("lr", "learning_rate").replace("net", "model")
    node, how = find_duplicate(variant, [(3, BASE)])
    assert node == 3 and how.startswith("near-identical")


def test_a_changed_hyperparameter_is_new():
    assert find_duplicate(BASE.replace("1e-3", "1e-4"), [(1, BASE)]) is None
    assert find_duplicate(BASE.replace("width=64", "width=128"), [(1, BASE)]) is None


def test_unparseable_code_is_only_compared_textually():
    assert find_duplicate("def solve(:\n", [(1, BASE)]) is None
