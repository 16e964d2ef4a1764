"""Resuming `finetune`: the partial folder `OUT.partial/` a run keeps while it trains, and what `--resume` reads.

    OUT.partial/
      run.json        the options and input tables a resumed run must share (`fingerprint`)
      checkpoint.pt   the seed in training, at its last dev evaluation: weights, optimiser, schedule, loss scaler,
                      RNG states, data position (epoch, batch, the epoch's shuffled batch order), the best weights,
                      dev history and counters so far (`loop.SeedTraining.state`)
      seeds.pt        the seeds finished before it: their scores, history and dev/test outputs, and the weights of
                      the best of them (written when a seed ends and another follows)

The folder appears at the first evaluation (built under a temporary name, then renamed), each file is replaced in
one step (written beside it, flushed, renamed), so a run killed at any moment leaves the previous state or the new
one. Tensors are read back with `torch.load(weights_only=True)`; the rest is JSON inside the file. The folder is
removed once the output folder is complete. Resuming restores everything a step depends on, so the resumed run's
metrics.json, predictions.tsv and weights equal those of a run that never stopped (the wall times differ: they
count the time of the work that was kept).
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.common.fields import option_fields, option_name
from dnabert2.common.files import (check_new_output, check_writable_parent, fsync_file, remove_tree, staged_dir,
                                   staged_file, staged_leftovers)
from dnabert2.errors import InputError

RUN_FILE, CHECKPOINT_FILE, SEEDS_FILE = "run.json", "checkpoint.pt", "seeds.pt"
# options that change no number of the run: they may differ between a run and its --resume (the device and
# precision may too, as for pretrain: the run can move to a GPU; the numbers then differ in their last digits)
FREE_OPTIONS = ("output", "resume", "force", "device", "precision", "threads", "save_adapter", "attention", "compile",
                "pack")
# options whose meaning is a file: compared through `fingerprint`'s tables and model, not as the text given
PATH_OPTIONS = ("model", "data", "train", "dev", "test")


def partial_folder(output):
    """`tata_model` -> `tata_model.partial`: where an unfinished run keeps its state."""
    output = Path(output)
    return output.with_name(f"{output.name}.partial")


def check_output(output, resume, force):
    """Before any work (the caller holds the output's lock): "new" or "resume"; InputError when OUT exists (without
    --force), when --resume finds no partial run, or when a partial run exists and neither option was given."""
    output = Path(output)
    partial = partial_folder(output)
    check_writable_parent(output)
    if force:
        check_new_output(output, force)
        return "new"
    if resume:
        if (partial / RUN_FILE).is_file():
            return "resume"
        if output.exists():
            raise InputError(f"{output}: already complete, nothing to resume (use --force to train it again)")
        raise InputError(f"{output}: nothing to resume ({partial} does not exist); run without --resume")
    check_new_output(output, force)
    if partial.exists():
        raise InputError(f"{partial}: an interrupted run of this output exists; continue it with --resume or start "
                         "over with --force")
    return "new"


def fingerprint(settings, labelled, base_model):
    """What a resumed run must share with the partial one: every option that changes a number of the run (named as
    on the command line), the model trained from, and each table's path and content."""
    from dnabert2.common.files import sha256_files

    options = {option_name(f, how): getattr(settings, f.name) for f, how, _ in option_fields(type(settings))
               if f.name not in FREE_OPTIONS + PATH_OPTIONS}
    tables = {f"the {name} table": {"path": str(Path(split.table.path).resolve()),
                                    "sha256": sha256_files([split.table.path])}
              for name, split in labelled.splits().items()}
    return json.loads(json.dumps({"--model": base_model, **options, **tables}))


def differences(then, now):
    """'--lr 0.003 then, 0.001 now; the train table differs' for the keys whose values differ."""
    found = []
    for key in [*now, *(k for k in then if k not in now)]:
        if then.get(key) == now.get(key):
            continue
        if key.startswith("the ") and isinstance(now.get(key), dict):
            found.append(f"{key} differs ({now[key]['path']})")
        else:
            found.append(f"{key} {_shown(then.get(key))} then, {_shown(now.get(key))} now")
    return "; ".join(found)


def _shown(value):
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "(not given)" if value is None else str(value)


@dataclass
class FinishedSeed:
    """A seed trained to its end, as `seeds.pt` keeps it (run.py's RunResult without the model)."""
    plain: dict                 # seed, best_step, steps, history, dev, test, seconds, train_sequences_per_s
    outputs: dict               # "dev"/"test" -> (scores, predictions) numpy arrays


@dataclass
class PartialRun:
    """The partial folder of one run: what a resume continues from, and the writer of its states."""
    folder: Path
    stamp: dict                 # `fingerprint` of this run
    fresh: bool = True          # the folder is (re)made at the first save; a resumed one is kept
    checkpoint: tuple = None    # (tensors, plain) of the seed in training, or None
    seeds: list = field(default_factory=list)  # FinishedSeed of every seed done
    best_weights: dict = None   # state dict of the best finished seed's model
    enabled: bool = True        # False: nothing is written (benchmark runs)

    @classmethod
    def open(cls, output, mode, stamp, enabled=True):
        """A new partial run, or the one in OUT.partial/ read back (InputError when its options differ or a file is
        damaged)."""
        run = cls(partial_folder(output), stamp, fresh=mode != "resume", enabled=enabled)
        if mode == "resume":
            remove_temporaries(output)
            run._read()
        return run

    def _read(self):
        then = _read_json(self.folder / RUN_FILE, self.folder)
        if then != self.stamp:
            raise InputError(f"{self.folder}: cannot resume: the partial run was made with other options or input "
                             f"({differences(then, self.stamp)}); give the same ones, or start over with --force")
        if (self.folder / SEEDS_FILE).is_file():
            tensors, plain = _load(self.folder / SEEDS_FILE, self.folder)
            self.seeds = [FinishedSeed(p, {split: tuple(t.numpy() for t in pair)
                                           for split, pair in tensors["outputs"][i].items()})
                          for i, p in enumerate(plain["seeds"])]
            self.best_weights = tensors["best_weights"]
        if (self.folder / CHECKPOINT_FILE).is_file():
            self.checkpoint = _load(self.folder / CHECKPOINT_FILE, self.folder)

    def state_of(self, seed):
        """The checkpoint to continue seed `seed` from, or None (not started, or already finished)."""
        if self.checkpoint is None or self.checkpoint[1]["seed"] != seed:
            return None
        if any(done.plain["seed"] == seed for done in self.seeds):
            return None
        return self.checkpoint

    def save_checkpoint(self, training):
        """Save the state of a seed in training (`loop.SeedTraining`) at an evaluation."""
        if self.enabled:
            self._write(CHECKPOINT_FILE, *training.state())

    def save_seeds(self, seeds, best_weights):
        """Save the finished seeds (FinishedSeed) and the best one's weights."""
        if not self.enabled:
            return
        outputs = [{split: [_tensor(a) for a in pair] for split, pair in done.outputs.items()} for done in seeds]
        self._write(SEEDS_FILE, {"outputs": outputs, "best_weights": best_weights},
                    {"seeds": [done.plain for done in seeds]})

    def _write(self, name, tensors, plain):
        import torch

        payload = {**tensors, "plain": json.dumps(plain)}
        if self.fresh:  # the first save of a new run: the folder appears whole, with run.json
            if self.folder.exists():  # a partial run that --force starts over
                remove_tree(self.folder)
            with staged_dir(self.folder, fsync=True) as tmp:
                (tmp / RUN_FILE).write_text(json.dumps(self.stamp, indent=1) + "\n")
                torch.save(payload, tmp / name)
            self.fresh = False
            return
        with staged_file(self.folder / name) as tmp:
            torch.save(payload, tmp)
            fsync_file(tmp)

    def remove(self):
        """Drop the folder once the output is complete."""
        if self.folder.exists():
            remove_tree(self.folder)


def remove_temporaries(output):
    """Remove what a killed run of `output` left half-written (the caller holds the output's lock): the temporary
    copies of state files in OUT.partial/, and the temporary folders `common.files.staged_dir` was building beside
    OUT and OUT.partial (`staged_leftovers`)."""
    import shutil

    output, partial = Path(output), partial_folder(output)
    if partial.is_dir():
        for p in partial.iterdir():
            if p.name.startswith(".") and p.is_file():
                p.unlink()
    for p in staged_leftovers(output) + staged_leftovers(partial):
        shutil.rmtree(p, ignore_errors=True)


def _tensor(array):
    import torch

    return torch.from_numpy(array.copy())


def _read_json(path, folder):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{folder}: cannot resume, {Path(path).name} is damaged ({e}); start over with --force") \
            from None


def _load(path, folder):
    """(tensors, plain) of a state file."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        plain = json.loads(payload.pop("plain"))
    except Exception as e:  # noqa: BLE001 - any failure to read means --resume cannot use the file
        raise InputError(f"{folder}: cannot resume, {Path(path).name} is damaged ({e}); start over with --force") \
            from None
    return payload, plain
