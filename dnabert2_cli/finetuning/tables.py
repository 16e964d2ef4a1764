"""Labelled sequence tables for fine-tuning: reading, validating and turning labels into training targets.

A table is a CSV or TSV file (optionally gzip-compressed) whose first line names the columns:
- `sequence,label`; pairs `sequence_a,sequence_b,label` (e.g. enhancer-promoter interaction);
- a header naming no sequence column with exactly 2 or 3 columns is read by position, as the original DNABERT-2
  script does (`sequence,label` or `sequence_a,sequence_b,label`; GUE's pair files);
- optional `id` or `name` column, carried into predictions;
- every other column is a label: one column for classification or regression, several for multi-label (0/1).
The delimiter follows the extension (`.csv` comma, `.tsv` tab); for any other name, or when the header holds only
the other delimiter, it is sniffed from the header. A line that holds both delimiters is rejected.
Every row is checked, and every problem names the file and line: wrong field count, empty sequence, characters
outside IUPAC DNA, missing or malformed label, a class that occurs only in dev or test, one-class training data.
A missing-value marker in a label column (`NaN`, `NA`, `N/A`, `#N/A`, `null` in any case, or an empty field) is
refused: it is neither a class nor a finite number.
"""
import csv
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2.common.files import open_text
from dnabert2.common.text import is_int
from dnabert2.errors import InputError, located
from dnabert2.tokenizer.dna import IUPAC_DNA

log = logging.getLogger(__name__)

_NOT_DNA = re.compile(f"[^{IUPAC_DNA}]")
ID_COLUMNS = ("id", "name")
TASKS = ("auto", "classification", "regression", "multilabel")
SPLITS = ("train", "dev", "test")
TABLE_EXTENSIONS = (".csv", ".tsv", ".csv.gz", ".tsv.gz")  # a split's table is e.g. train.csv or dev.tsv.gz
MISSING_LABELS = {"", "nan", "+nan", "-nan", "na", "n/a", "#n/a", "null"}  # compared in lower case
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}
_DELIMITER_NAMES = {",": "comma", "\t": "tab"}


@dataclass
class Table:
    """The validated rows of one file. Sequences are upper-cased; labels are the raw strings, one per label column."""
    path: Path
    sequence_columns: list          # ['sequence'] or ['sequence_a', 'sequence_b'] (as named in the header)
    label_columns: list             # one or more column names
    sequences: list = field(default_factory=list)
    sequences_b: list = None        # second sequence of pairs, else None
    labels: list = field(default_factory=list)   # per row: tuple of raw label strings, one per label column
    lines: list = field(default_factory=list)    # 1-based line number of each row in the file
    ids: list = None                # per row: the id/name column, else None

    @property
    def pairs(self):
        return self.sequences_b is not None

    def __len__(self):
        return len(self.sequences)

    def subset(self, indices):
        """A new Table holding only the given rows (in the given order)."""
        pick = (lambda values: None if values is None else [values[i] for i in indices])
        return Table(self.path, self.sequence_columns, self.label_columns, pick(self.sequences),
                     pick(self.sequences_b), pick(self.labels), pick(self.lines), pick(self.ids))


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


def _base_suffix(path):
    """'.csv' for train.csv and train.csv.gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def choose_delimiter(path, header_line):
    """The extension's delimiter, or the one the header holds; InputError when the header holds both or neither."""
    has = {d: d in header_line for d in _DELIMITER_NAMES}
    if all(has.values()):
        raise InputError(located(path, "mixed delimiters: the header holds both commas and tabs", 1))
    by_extension = {".csv": ",", ".tsv": "\t"}.get(_base_suffix(path))
    if by_extension and has[by_extension]:
        return by_extension
    for delimiter, present in has.items():
        if present:
            if by_extension:
                log.info("%s: the header is %s-separated despite the file name", path, _DELIMITER_NAMES[delimiter])
            return delimiter
    raise InputError(located(path, "the header names only one column; expected a header such as "
                                   "'sequence,label' (comma- or tab-separated)", 1))


def _looks_like_data(fields):
    first = fields[0].strip().upper()
    return len(first) >= 8 and not _NOT_DNA.search(first)


def column_roles(path, header):
    """Split the header into (sequence column indices, id column index or None, label column indices)."""
    names = [name.strip() for name in header]
    lower = [name.lower() for name in names]
    if len(set(lower)) != len(lower):
        duplicate = next(name for name in lower if lower.count(name) > 1)
        raise InputError(located(path, f"column {duplicate!r} appears twice in the header", 1))
    if "sequence" in lower and ("sequence_a" in lower or "sequence_b" in lower):
        raise InputError(located(path, "the header has both 'sequence' and 'sequence_a'/'sequence_b'; "
                                       "use 'sequence' alone or the pair 'sequence_a,sequence_b'", 1))
    if "sequence" in lower:
        sequence = [lower.index("sequence")]
    elif "sequence_a" in lower and "sequence_b" in lower:
        sequence = [lower.index("sequence_a"), lower.index("sequence_b")]
    elif "sequence_a" in lower or "sequence_b" in lower:
        missing = "sequence_b" if "sequence_a" in lower else "sequence_a"
        raise InputError(located(path, f"missing column {missing!r}: pairs need both 'sequence_a' and "
                                       "'sequence_b'", 1))
    elif _looks_like_data(names):
        raise InputError(located(path, "no header line: the first line must name the columns, "
                                       "e.g. 'sequence,label'", 1))
    elif len(names) in (2, 3):
        # the original script's positional layout: [sequence, label] or [sequence_a, sequence_b, label]
        sequence = list(range(len(names) - 1))
    else:
        raise InputError(located(path, "missing columns: expected 'sequence' (or 'sequence_a' and 'sequence_b') "
                                       f"and label column(s); the header has: {', '.join(names)}", 1))
    id_column = next((i for i, name in enumerate(lower) if name in ID_COLUMNS and i not in sequence), None)
    labels = [i for i in range(len(names)) if i not in sequence and i != id_column]
    if not labels:
        raise InputError(located(path, f"missing label column: the header has only {', '.join(names)}", 1))
    return sequence, id_column, labels


def clean_sequence(path, line, column, text):
    """Upper-cased sequence; InputError for an empty one or a character outside IUPAC DNA."""
    sequence = text.strip().upper()
    if not sequence:
        raise InputError(located(path, f"empty sequence in column {column!r}", line))
    bad = _NOT_DNA.search(sequence)
    if bad:
        raise InputError(located(path, f"invalid character {text.strip()[bad.start()]!r} at position "
                                       f"{bad.start() + 1} of column {column!r} (allowed: IUPAC DNA letters "
                                       f"{IUPAC_DNA})", line))
    return sequence


def read_table(path):
    """Read and check one CSV/TSV file -> Table. InputError names the file and line of the first problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with open_text(path, newline="") as handle:
            lines = handle.read().splitlines()
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise InputError(f"{path}: cannot read as a text table ({e})") from None
    numbered = [(number, text) for number, text in enumerate(lines, start=1) if text.strip()]
    if not numbered:
        raise InputError(f"{path}: the file is empty")
    header_number, header_line = numbered[0]
    delimiter = choose_delimiter(path, header_line)
    other = "\t" if delimiter == "," else ","
    header = next(csv.reader([header_line], delimiter=delimiter))
    sequence_index, id_index, label_index = column_roles(path, header)
    names = [name.strip() for name in header]
    table = Table(path, [names[i] for i in sequence_index], [names[i] for i in label_index],
                  sequences_b=[] if len(sequence_index) == 2 else None, ids=[] if id_index is not None else None)
    for number, text in numbered[1:]:
        fields = next(csv.reader([text], delimiter=delimiter))
        mixed = other in text and (len(fields) != len(header) or any(other in fields[i] for i in sequence_index))
        if mixed:
            raise InputError(located(path, f"mixed delimiters: a {_DELIMITER_NAMES[other]} in a "
                                           f"{_DELIMITER_NAMES[delimiter]}-separated file", number))
        if len(fields) != len(header):
            raise InputError(located(path, f"expected {len(header)} fields ({', '.join(names)}), found "
                                           f"{len(fields)}", number))
        table.sequences.append(clean_sequence(path, number, names[sequence_index[0]], fields[sequence_index[0]]))
        if table.sequences_b is not None:
            table.sequences_b.append(clean_sequence(path, number, names[sequence_index[1]],
                                                    fields[sequence_index[1]]))
        labels = tuple(fields[i].strip() for i in label_index)
        for column, value in zip(table.label_columns, labels):
            _check_label(path, number, column, value)
        table.labels.append(labels)
        table.lines.append(number)
        if table.ids is not None:
            table.ids.append(fields[id_index].strip())
    if not table.sequences:
        raise InputError(located(path, "no rows after the header", header_number))
    return table


def _check_label(path, line, column, value):
    """InputError for an empty label or a missing-value marker (NaN, NA, null: not a class, not a number)."""
    if not value:
        raise InputError(located(path, f"missing label in column {column!r}", line))
    if value.lower() in MISSING_LABELS:
        raise InputError(located(path, f"missing label {value!r} in column {column!r}: a missing value is neither "
                                       "a class nor a finite number; drop the row or give its label", line))


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
