"""`compare` on a small slice of the real data: trains, reuses, scores like `melanoma evaluate`."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import melanoma.compare as compare_module
from melanoma.checkpoint import checkpoint_sha256, load_checkpoint
from melanoma.cli import cli
from melanoma.compare import _near_duplicates_line, compare, results_markdown, reusable
from melanoma.compare_statistics import seed_mean_bootstrap, without_near_duplicates
from melanoma.errors import UserError
from melanoma.evaluate import evaluate_checkpoint
from melanoma.inference import predict_probs
from melanoma.methods import METHODS, method_config
from melanoma.metrics import rank_auc
from melanoma.preprocess import normalize
from melanoma.versions import package_versions, toolkit_source


@pytest.fixture(scope="module")
def small(dataset):
    """Real labeled split, 60 test images (30 per class), 64 unlabeled images."""
    test_index = torch.cat([torch.arange(0, 30), torch.arange(300, 330)])  # test is class-sorted
    return dataclasses.replace(
        dataset,
        test=dataset.test.subset(test_index),
        unlabeled=dataset.unlabeled.subset(torch.arange(64)),
    )


@pytest.fixture(scope="module")
def compared(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    results = compare(small, out, ("supervised", "sgan"), (0, 1), epochs=1, progress=False)
    return out, results


def test_writes_results_for_every_method_and_seed(compared):
    out, results = compared
    assert [(r["method"], r["seed"]) for r in results["runs"]] == [
        ("supervised", 0),
        ("supervised", 1),
        ("sgan", 0),
        ("sgan", 1),
    ]
    assert json.loads((out / "results.json").read_text())["seeds"] == [0, 1]
    markdown = (out / "results.md").read_text()
    assert "| sgan |" in markdown and "sgan_minus_supervised" in markdown
    assert f"{results['summary']['sgan']['auc']['mean']:.3f} ± " in markdown  # 2 seeds: a spread
    one_seed = results_markdown({**results, "seeds": [0]})
    assert "±" not in one_seed.split("\n\n| method | seed |")[0]  # nothing to spread over
    assert (out / "roc.png").stat().st_size > 0
    for method in ("supervised", "sgan"):
        aucs = [r["test"]["auc"] for r in results["runs"] if r["method"] == method]
        assert results["summary"][method]["auc"]["mean"] == pytest.approx(sum(aucs) / 2)
        low, high = results["bootstrap"][f"{method}_mean_auc_ci"]
        assert low <= results["summary"][method]["auc"]["mean"] <= high


def test_numbers_equal_evaluate_checkpoint(compared, small):
    out, results = compared
    run = results["runs"][2]
    report = evaluate_checkpoint(load_checkpoint(out / "sgan-seed0"), small.test)
    assert run["test"]["auc"] == report["auc"]
    assert run["test"]["accuracy"] == report["accuracy"]
    assert run["val_auc"] == load_checkpoint(out / "sgan-seed0").meta.val_metrics["auc"]
    seed1 = load_checkpoint(out / "sgan-seed1")  # CIs bootstrapped as `evaluate` does, seed 0
    assert results["runs"][3]["test"]["ci"] == evaluate_checkpoint(seed1, small.test)["ci"]
    assert run["test"]["threshold"] == load_checkpoint(out / "sgan-seed0").meta.threshold()
    assert run["threshold_estimator"] in ("binormal", "empirical")  # empirical: a fallback
    assert (
        f"| {run['test']['threshold']:.3f} ({run['threshold_estimator']}) |"
        in (out / "results.md").read_text()
    )


def test_results_name_each_model_by_sha256_and_say_how_they_were_bootstrapped(compared, small):
    """A folder compare retrains when settings change names no model by itself; CIs drawn
    with unrecorded resamples and seed cannot be redrawn."""
    out, results = compared
    probs = {}
    for run in results["runs"]:
        ckpt_dir = out / f"{run['method']}-seed{run['seed']}"
        assert run["checkpoint_sha256"] == checkpoint_sha256(ckpt_dir)
        assert run["test"]["bootstrap"] == {"n_resamples": 1000, "seed": 0}
        ckpt = load_checkpoint(ckpt_dir)
        probs[run["method"], run["seed"]] = predict_probs(
            ckpt.model, small.test.images, ckpt.meta.mean, ckpt.meta.std
        )
    settings = results["bootstrap_settings"]
    labels, methods = small.test.labels.numpy(), results["methods"]
    redrawn = seed_mean_bootstrap(labels, probs, methods, results["seeds"], **settings)
    assert results["bootstrap"] == redrawn
    assert results["versions"] == package_versions()
    assert results["toolkit_source"] == toolkit_source()


def test_seed_ensemble_auc_averages_the_seeds_logits(compared, small):
    out, results = compared
    labels = small.test.labels.numpy()
    for method in ("supervised", "sgan"):
        logits = []
        for seed in (0, 1):
            ckpt = load_checkpoint(out / f"{method}-seed{seed}")
            with torch.no_grad():
                x = normalize(small.test.images, ckpt.meta.mean, ckpt.meta.std)
                logits.append(ckpt.model(x).flatten().double().numpy())
        expected = rank_auc(labels, np.mean(logits, axis=0))
        assert results["seed_ensemble_auc"][method] == pytest.approx(expected, abs=1e-6)
        assert f"{method} {expected:.3f}" in (out / "results.md").read_text()


def test_single_network_aucs_are_each_ensemble_members_own(compared, small):
    out, results = compared
    run = results["runs"][0]  # supervised seed 0: an ensemble of its cross-validation folds
    checkpoint, labels = load_checkpoint(out / "supervised-seed0"), small.test.labels.numpy()
    mean, std = checkpoint.meta.mean, checkpoint.meta.std
    expected = [
        rank_auc(labels, predict_probs(m, small.test.images, mean, std))
        for m in checkpoint.model.members
    ]
    assert len(expected) > 1 and run["member_test_aucs"] == pytest.approx(expected)
    assert f"| {np.mean(expected):.3f} (mean of {len(expected)}) |" in results_markdown(results)
    assert results["runs"][2]["member_test_aucs"] == []  # the SGAN is one network


def test_auc_without_the_test_images_copied_in_the_unlabeled_pool(small):
    """Copies of test images 0, 1 (melanoma) and 45 (benign), one shifted by 5 grey
    levels, join the unlabeled pool: the AUC without them is computed on the other 57."""
    copies = small.test.images[[0, 1, 45]].clone()
    copies[1] = copies[1].clamp(max=250) + 5  # RMS <= 5/255 = 0.02: still a near-copy
    pool = small.unlabeled.images
    copied_pool = dataclasses.replace(small.unlabeled, images=torch.cat([pool, copies]))
    variant = dataclasses.replace(small, unlabeled=copied_pool)
    gen = np.random.default_rng(0)
    probs = {(m, s): gen.random(60) for m in ("a", "b") for s in (0, 1)}
    near = without_near_duplicates(variant, probs, ("a", "b"), (0, 1))
    labels, kept = small.test.labels.numpy(), np.ones(60, dtype=bool)
    kept[[0, 1, 45]] = False
    assert (near["n"], near["n_melanoma"], near["max_rms"]) == (3, 2, 0.04)
    for m in ("a", "b"):
        without = np.mean([rank_auc(labels[kept], probs[m, s][kept]) for s in (0, 1)])
        everything = np.mean([rank_auc(labels, probs[m, s]) for s in (0, 1)])
        assert near["auc_without"][m] == pytest.approx(without)
        assert near["auc_all"][m] == pytest.approx(everything)
    change = near["auc_without"]["b"] - near["auc_all"]["b"]
    line = _near_duplicates_line(near)
    assert f"b {near['auc_without']['b']:.4f} ({change:+.4f})" in line
    assert "(RMS < 0.04, allowing flips and quarter turns)" in line
    assert (
        without_near_duplicates(dataclasses.replace(small, unlabeled=None), probs, "a", (0,))
        is None
    )
    assert without_near_duplicates(small, probs, ("a", "b"), (0, 1)) is None  # no copies
    everything_copied = dataclasses.replace(small.unlabeled, images=small.test.images)
    everything = dataclasses.replace(small, unlabeled=everything_copied)  # was a ValueError
    assert without_near_duplicates(everything, probs, ("a", "b"), (0, 1)) is None


def test_second_run_reuses_matching_checkpoints(compared, small, tmp_path, monkeypatch):
    # a copy: the reruns rewrite results.json and results.md, which other tests read
    out, first = shutil.copytree(compared[0], tmp_path / "compare"), compared[1]
    again = compare(small, out, ("sgan",), (0,), epochs=1, progress=False)
    assert again["runs"][0]["train_seconds"] is None
    assert again["seed_ensemble_auc"] is None  # one seed: nothing to average
    # and through the command, which prints results.md (the data summary: on stderr)
    monkeypatch.setattr("melanoma.datasets.load_dataset", lambda data: small)
    args = ["--methods", "supervised", "--seeds", "0", "--epochs", "1", "--no-progress"]
    result = CliRunner().invoke(cli, ["compare", "--data", "small", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == (out / "results.md").read_text()
    assert small.summary() in result.stderr
    supervised = json.loads((out / "results.json").read_text())
    assert supervised["methods"] == ["supervised"] and supervised["seeds"] == [0]
    assert supervised["runs"][0]["train_seconds"] is None
    assert again["runs"][0]["test"]["auc"] == first["runs"][2]["test"]["auc"]


def test_a_ctrl_c_while_the_roc_is_drawn_leaves_the_previous_results_whole(
    compared, small, tmp_path, monkeypatch
):
    """results.json, results.md and roc.png are one set: a rerun stopped at the plot left
    the new tables beside the previous run's ROC curves."""
    out = tmp_path / "compare"
    shutil.copytree(compared[0], out)
    names = ("results.json", "results.md", "roc.png")
    before = {name: (out / name).read_bytes() for name in names}

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "_plot_roc", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compare(small, out, ("supervised",), (0,), epochs=1, progress=False)
    assert {name: (out / name).read_bytes() for name in names} == before
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(names)  # no temps


def test_a_checkpoint_made_before_a_setting_existed_counts_as_its_old_value(
    compared, small, tmp_path
):
    """Supervised checkpoints made before select_epoch existed kept the last epoch."""
    old = shutil.copytree(compared[0] / "supervised-seed0", tmp_path / "old")
    meta = json.loads((old / "metadata.json").read_text())
    del meta["train_config"]["select_epoch"]
    (old / "metadata.json").write_text(json.dumps(meta))
    config = method_config("supervised", 0, 1)
    assert config.select_epoch == "val-auc"
    assert not reusable(old, "supervised", config, small)
    assert reusable(old, "supervised", dataclasses.replace(config, select_epoch="last"), small)


def test_changed_config_or_data_is_not_reused(compared, small, dataset):
    out, _ = compared
    assert reusable(out / "sgan-seed0", "sgan", method_config("sgan", 0, 1), small)
    assert not reusable(out / "sgan-seed0", "sgan", method_config("sgan", 0, 2), small)
    assert not reusable(out / "sgan-seed0", "sgan", method_config("sgan", 1, 1), small)
    assert not reusable(out / "sgan-seed0", "supervised", method_config("supervised", 0, 1), small)
    assert not reusable(out / "sgan-seed0", "sgan", method_config("sgan", 0, 1), dataset)


def test_a_corrupt_checkpoint_is_retrained_with_a_warning_naming_it(
    compared, small, tmp_path, caplog
):
    broken = shutil.copytree(compared[0] / "sgan-seed0", tmp_path / "broken")
    (broken / "metadata.json").write_text("{")
    assert not reusable(broken, "sgan", method_config("sgan", 0, 1), small)
    assert "broken/metadata.json: corrupt metadata" in caplog.text and "retraining" in caplog.text
    caplog.clear()
    assert not reusable(tmp_path / "never-trained", "sgan", method_config("sgan", 0, 1), small)
    assert not caplog.text  # nothing there to lose


def test_sgan_ablations_train_with_the_sgan_trainer_and_are_never_mistaken_for_it(
    compared, small, tmp_path
):
    labeled_only = method_config("sgan-labeled-only", 0, 1)
    sgan_dir = compared[0] / "sgan-seed0"
    assert not reusable(sgan_dir, "sgan-labeled-only", labeled_only, small)

    compare(small, tmp_path, ("sgan-labeled-only", "sgan"), (0,), epochs=1, progress=False)
    ablation_dir = tmp_path / "sgan-labeled-only-seed0"
    assert load_checkpoint(ablation_dir).meta.method == "sgan"
    assert load_checkpoint(ablation_dir).meta.train_config["unsup_weight"] == 0.0
    assert reusable(ablation_dir, "sgan-labeled-only", labeled_only, small)
    assert "sgan_minus_sgan-labeled-only" in (tmp_path / "results.md").read_text()


def test_compare_help_names_every_method():
    text = CliRunner().invoke(cli, ["compare", "--help"]).output
    flat = re.sub(r"-\s+", "-", " ".join(text.split()))  # click wraps lines after a hyphen
    assert all(method in flat for method in METHODS)


def test_cli_rejects_unknown_method(tmp_path):
    result = CliRunner().invoke(cli, ["compare", "--methods", "sgan,gan", "--out", str(tmp_path)])
    assert result.exit_code == 2  # a usage error, before any data is read
    assert "unknown method(s) gan; choose from supervised" in result.output


def test_a_rerun_continues_the_seed_ctrl_c_interrupted(small, tmp_path, ctrl_c_on_epoch, caplog):
    import melanoma.train as train_module
    from melanoma.resume import TrainingInterrupted

    ctrl_c_on_epoch(train_module, 3)  # member 2 of the first seed
    with pytest.raises(TrainingInterrupted):
        compare(small, tmp_path, ("supervised",), (0,), epochs=2, progress=False)
    assert (tmp_path / "supervised-seed0" / "resume.pt").is_file()
    with caplog.at_level("INFO", logger="melanoma.resume"):
        compare(small, tmp_path, ("supervised",), (0,), epochs=2, progress=False)
    assert "resuming from" in caplog.text
    assert not (tmp_path / "supervised-seed0" / "resume.pt").exists()


def test_a_run_that_diverges_is_named_in_the_one_line_error(small, tmp_path, monkeypatch):
    """compare trains methods x seeds: "SGAN diverged in epoch 1 (...); try another --seed"
    did not say which seed, or which folder holds the history of what trained."""
    import melanoma.sgan_step
    from melanoma.training import DivergenceError

    def diverging(nets, *args, **kwargs):
        with torch.no_grad():
            next(nets.disc.parameters()).fill_(float("nan"))
        return real_step(nets, *args, **kwargs)

    real_step = melanoma.sgan_step.sgan_step
    monkeypatch.setattr(melanoma.sgan_step, "sgan_step", diverging)
    with pytest.raises(DivergenceError, match=r"^sgan seed 1 \(.*sgan-seed1\): SGAN diverged"):
        compare(small, tmp_path, ("sgan",), (1,), epochs=1, progress=False)
    assert not (tmp_path / "sgan-seed1" / "weights.pt").exists()


@pytest.mark.parametrize(
    ("methods", "seeds", "complaint"),
    [
        (("supervised",), (0, 0), "compare seeds: 0 given more than once"),
        (("supervised",), np.array([1, 1]), "compare seeds: 1 given more than once"),
        ("supervised", (0,), "compare methods='supervised': expected a non-empty list"),
        (("sgan", "sgan"), (0,), "compare methods: sgan given more than once"),
        (("sgan",), (), r"compare seeds=\(\): expected a non-empty list"),
    ],
)
def test_repeats_and_strings_are_refused_before_training(
    small, tmp_path, methods, seeds, complaint
):
    """A repeated seed counted the same runs as two samples of the mean and the ±."""
    with pytest.raises(UserError, match=complaint):
        compare(small, tmp_path / "out", methods, seeds, epochs=1, progress=False)
    assert not (tmp_path / "out").exists()
