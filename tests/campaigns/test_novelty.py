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


def test_the_index_reads_each_node_once_and_again_when_its_code_changes():
    from app.db.fingerprint import code_fingerprint
    from app.campaigns.novelty import NoveltyIndex

    codes = {1: BASE, 2: BASE.replace("1e-3", "1e-2")}
    loads: list[list[int]] = []

    def load(ids):
        loads.append(sorted(ids))
        return {i: codes[i] for i in ids}

    def others():
        return [(i, code_fingerprint(c)) for i, c in codes.items()]

    index = NoveltyIndex()
    renamed = BASE.replace("lr", "learning_rate")
    assert index.find(renamed, others(), load) == (1, "near-identical (only names differ)")
    assert index.find(BASE.replace("# learning rate", ""), others(), load) == (1, "identical")
    assert index.find(BASE.replace("width=64", "width=8"), others(), load) is None
    assert loads == [[1, 2]]  # fingerprinted once, then served from the index
    codes[2] = BASE.replace("width=64", "width=8")  # the debugger rewrote node 2
    assert index.find(BASE.replace("width=64", "width=8").replace("net", "model"), others(), load)[0] == 2
    assert loads == [[1, 2], [2]]
