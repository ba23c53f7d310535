"""Two `compare` runs into one --out, each in its own process: the second is refused; and
a `train` into a compare's --out, either way round."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from melanoma.atomic import HELD_BY_ANOTHER_RUN
from melanoma.checkpoint import checkpoint_sha256
from melanoma.compare import compare
from melanoma.errors import UserError
from melanoma.methods import method_config, train_method

from other_process import HOLDS_A_RUN_DIR, other_process

# The other compare, in a process of its own: once it has trained and scored seed 0 it
# says so and waits for a line on stdin, and again as it is about to write its results.
OTHER_COMPARE = """
import dataclasses, sys
from pathlib import Path
import torch
import melanoma.compare as compare_module
from melanoma.datasets import load_dataset

dataset = load_dataset(sys.argv[1])
test_index = torch.cat([torch.arange(0, 30), torch.arange(300, 330)])
small = dataclasses.replace(dataset, test=dataset.test.subset(test_index))
train_and_score = compare_module._train_and_score

def then_wait(*args):
    scored = train_and_score(*args)
    print("scored", flush=True)
    sys.stdin.readline()
    return scored

compare_module._train_and_score = then_wait
write_results = compare_module._write_results

def write_after_a_line(*args):
    print("writing", flush=True)
    sys.stdin.readline()
    write_results(*args)

compare_module._write_results = write_after_a_line
compare_module.compare(small, Path(sys.argv[2]), ("supervised",), (0,), 1, progress=False)
"""


@pytest.fixture
def small(dataset):
    """The real labeled split and 60 test images, as the other process takes them."""
    test_index = torch.cat([torch.arange(0, 30), torch.arange(300, 330)])  # class-sorted
    return dataclasses.replace(dataset, test=dataset.test.subset(test_index))


def test_a_compare_into_a_folder_another_compare_holds_is_refused(small, data_path, tmp_path):
    """The second used to retrain the seed the first had just scored (other --epochs), and
    both exited 0: the first's results.json then named a model the folder no longer held."""
    out = tmp_path / "out"
    refused = "holds this folder; wait for it to end$"
    with other_process(OTHER_COMPARE, data_path, out, ready="scored") as other:
        with pytest.raises(UserError, match=refused):
            compare(small, out, ("supervised",), (0,), epochs=2, progress=False)
        other.stdin.write("go\n")
        other.stdin.flush()
        # and still while its results are written: the folder is held until they are
        assert other.stdout.readline() == "writing\n", other.stderr.read()
        with pytest.raises(UserError, match=refused):
            compare(small, out, ("supervised",), (0,), epochs=2, progress=False)
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["epochs"] == 1
    assert run["checkpoint_sha256"] == checkpoint_sha256(out / "supervised-seed0")


def test_a_train_into_a_folder_inside_a_compares_out_is_refused(dataset, tmp_path):
    """It trained into OUT/supervised-seed1 and exited 0; the compare holding OUT then
    refused to train that seed, after training the ones before it (2026-12-07)."""
    out, member = tmp_path / "out", tmp_path / "out" / "supervised-seed1"
    config = method_config("supervised", 1, epochs=1, progress=False)
    with other_process(HOLDS_A_RUN_DIR, out, ready="holding"):  # as compare holds its --out
        with pytest.raises(UserError) as refused:
            train_method("supervised", dataset, config, member)
    assert str(refused.value) == (
        f"{out.resolve()}: {HELD_BY_ANOTHER_RUN}, and {member} is inside it; wait for it to end"
    )
    assert not member.exists()


def test_a_compare_whose_member_another_run_holds_is_refused_before_training(small, tmp_path):
    """A `train --out OUT/supervised-seed1` begun first: the compare trained seed 0, then
    was refused at seed 1, the hours of the seeds before it lost."""
    out, member = tmp_path / "out", tmp_path / "out" / "supervised-seed1"
    with other_process(HOLDS_A_RUN_DIR, member, ready="holding"):
        with pytest.raises(UserError) as refused:
            compare(small, out, ("supervised",), (0, 1), epochs=1, progress=False)
    assert str(refused.value) == f"{member}: {HELD_BY_ANOTHER_RUN}; wait for it to end"
    assert not (out / "supervised-seed0").exists()
