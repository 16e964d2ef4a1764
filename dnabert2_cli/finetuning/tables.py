"""Labelled sequence tables for fine-tuning: the train/dev/test files of a run and their labels as training targets.

One file is read and checked by `common.tables.read_table` (its layouts and row checks are described there). Here:
finding the splits of a `--data` folder, picking the task, and checking labels across the splits (malformed
labels, a class that occurs only in dev or test, one-class training data), every problem with its file and line.
"""
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnabert2.common.tables import Table, read_table
from dnabert2.common.text import is_int
from dnabert2.errors import InputError, located

log = logging.getLogger(__name__)

TASKS = ("auto", "classification", "regression", "multilabel")
SPLITS = ("train", "dev", "test")
TABLE_EXTENSIONS = (".csv", ".tsv", ".csv.gz", ".tsv.gz")  # a split's table is e.g. train.csv or dev.tsv.gz
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


@dataclass
class Split:
    """One split ready for training: its table and the targets (class ids, 0/1 matrix or floats) as numpy."""
    table: Table
    targets: np.ndarray


@dataclass
class LabelledData:
    """train/dev/test with a task and label names shared by all three."""
    task: str                       # 'classification' | 'regression' | 'multilabel'
    label_names: list               # classes, label columns (multilabel) or [column] (regression)
    train: Split
    dev: Split
    test: Split = None              # None when no test file was given

    @property
    def pairs(self):
        return self.train.table.pairs

    def splits(self):
        return {name: split for name, split in (("train", self.train), ("dev", self.dev), ("test", self.test))
                if split is not None}


def table_names(split):
    """The file names a split's table may have: train.csv, train.tsv, train.csv.gz, train.tsv.gz."""
    return {f"{split}{ext}" for ext in TABLE_EXTENSIONS}


def find_split_files(data_dir):
    """{'train': path, 'dev': path, 'test': path or None} from a folder of train/dev/test .csv/.tsv files."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"--data {data_dir}: not a folder")
    found = {}
    for split in SPLITS:
        candidates = sorted(p for p in data_dir.iterdir() if p.is_file() and p.name.lower() in table_names(split))
        if len(candidates) > 1:
            raise InputError(f"--data {data_dir}: several {split} files ({', '.join(p.name for p in candidates)}); "
                             "keep one")
        found[split] = candidates[0] if candidates else None
    for split in ("train", "dev"):
        if found[split] is None:
            raise InputError(f"--data {data_dir}: no {split}.csv or {split}.tsv in the folder")
    return found


def _parse_float(path, line, column, value):
    try:
        number = float(value)
    except ValueError:
        raise InputError(located(path, f"label {value!r} in column {column!r} is not a number (regression "
                                       "needs numeric labels)", line)) from None
    if not math.isfinite(number):
        raise InputError(located(path, f"label {value!r} in column {column!r} is not a finite number", line))
    return number


def _is_float(value):
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def infer_task(train):
    """'multilabel' for several label columns; one column: integers -> classification, other numbers ->
    regression, anything else -> classification with named classes."""
    if len(train.label_columns) > 1:
        return "multilabel"
    values = [labels[0] for labels in train.labels]
    if all(is_int(v) for v in values):
        return "classification"
    if all(_is_float(v) for v in values):
        return "regression"
    return "classification"


def _class_names(train):
    """Class names in a fixed order: numerically for integer labels, alphabetically otherwise."""
    values = {labels[0] for labels in train.labels}
    if all(is_int(v) for v in values):
        return [str(v) for v in sorted({int(v) for v in values})]
    return sorted(values)


def _class_targets(table, classes, train_path):
    index = {name: i for i, name in enumerate(classes)}
    integer_classes = all(is_int(c) for c in classes)
    targets = []
    for labels, line in zip(table.labels, table.lines):
        value = labels[0]
        key = str(int(value)) if integer_classes and is_int(value) else value
        if key not in index:
            shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
            raise InputError(located(table.path, f"label {value!r} does not occur in the training data "
                                                 f"({train_path.name} has: {shown})", line))
        targets.append(index[key])
    return np.asarray(targets, dtype=np.int64)


def _multilabel_targets(table):
    rows = []
    for labels, line in zip(table.labels, table.lines):
        row = []
        for column, value in zip(table.label_columns, labels):
            lowered = value.lower()
            if lowered in _TRUE:
                row.append(1.0)
            elif lowered in _FALSE:
                row.append(0.0)
            else:
                raise InputError(located(table.path, f"multi-label column {column!r} must hold 0 or 1, found "
                                                     f"{value!r}", line))
        rows.append(row)
    return np.asarray(rows, dtype=np.float32)


def _check_same_layout(train, other):
    if other.pairs != train.pairs:
        kinds = {True: "sequence pairs (sequence_a, sequence_b)", False: "single sequences"}
        raise InputError(located(other.path, f"holds {kinds[other.pairs]} but {train.path.name} holds "
                                             f"{kinds[train.pairs]}", 1))
    if len(other.label_columns) != len(train.label_columns) or (
            len(train.label_columns) > 1 and [c.lower() for c in other.label_columns]
            != [c.lower() for c in train.label_columns]):
        raise InputError(located(other.path, f"label columns {', '.join(other.label_columns)} differ from "
                                             f"{train.path.name}'s ({', '.join(train.label_columns)})", 1))


def label_data(train, dev, test=None, task="auto"):
    """Tables -> LabelledData: pick the task, map labels to targets, check classes across the splits."""
    if task not in TASKS:
        raise InputError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    tables = [t for t in (train, dev, test) if t is not None]
    for table in tables[1:]:
        _check_same_layout(train, table)
    if task == "auto":
        task = infer_task(train)
        log.info("task inferred from %s: %s", train.path, task)
    if task == "multilabel":
        if len(train.label_columns) < 2:
            raise InputError(located(train.path, "--task multilabel needs several label columns; the header has "
                                                 f"one ({train.label_columns[0]})", 1))
        names = list(train.label_columns)
        splits = [Split(t, _multilabel_targets(t)) for t in tables]
        for j, name in enumerate(names):
            if len(np.unique(splits[0].targets[:, j])) < 2:
                log.warning("%s: label column %r has a single value in the training data", train.path, name)
    elif len(train.label_columns) > 1:
        raise InputError(located(train.path, f"--task {task} needs one label column; the header has "
                                             f"{len(train.label_columns)} ({', '.join(train.label_columns)})", 1))
    elif task == "regression":
        names = list(train.label_columns)
        splits = [Split(t, np.asarray([_parse_float(t.path, line, t.label_columns[0], labels[0])
                                       for labels, line in zip(t.labels, t.lines)], dtype=np.float32))
                  for t in tables]
    else:
        names = _class_names(train)
        if len(names) < 2:
            raise InputError(located(train.path, f"the training data has one class only ({names[0]!r}); "
                                                 "classification needs at least two"))
        splits = [Split(t, _class_targets(t, names, train.path)) for t in tables]
    train_split, dev_split, test_split = splits + [None] * (3 - len(splits))
    return LabelledData(task, names, train_split, dev_split, test_split)


def load_tables(train=None, dev=None, test=None, data=None, task="auto"):
    """Read train/dev(/test) from explicit files or a --data folder, check them, and label them."""
    if data is not None:
        if train or dev or test:
            raise InputError("give either --data or --train/--dev/--test, not both")
        files = find_split_files(data)
        train, dev, test = files["train"], files["dev"], files["test"]
    if train is None or dev is None:
        raise InputError("give --train and --dev (and optionally --test), or --data DIR")
    tables = [read_table(path) if path is not None else None for path in (train, dev, test)]
    return label_data(*tables, task=task)


def subsample(split, n, seed):
    """A reproducible random subset of n rows of a split (all rows when n is None or >= its size)."""
    if split is None or n is None or n >= len(split.table):
        return split
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(split.table), size=n, replace=False))
    return Split(split.table.subset(keep.tolist()), split.targets[keep])
