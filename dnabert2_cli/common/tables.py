"""Labelled sequence tables (`finetune`'s train/dev/test, `pretrain --table`): reading and checking one file.

A table is a CSV or TSV file (optionally gzip-compressed) whose first line names the columns:
- `sequence,label`; pairs `sequence_a,sequence_b,label` (e.g. enhancer-promoter interaction);
- a header naming no sequence column with exactly 2 or 3 columns is read by position, as the original DNABERT-2
  script does (`sequence,label` or `sequence_a,sequence_b,label`; GUE's pair files);
- optional `id` or `name` column, carried into predictions;
- every other column is a label: one column for classification or regression, several for multi-label (0/1).
The delimiter follows the extension (`.csv` comma, `.tsv` tab); for any other name, or when the header holds only
the other delimiter, it is sniffed from the header. A line that holds both delimiters is rejected.
Every row is checked, and every problem names the file and line: wrong field count, empty sequence, characters
outside IUPAC DNA, a missing label. A missing-value marker in a label column (`NaN`, `NA`, `N/A`, `#N/A`, `null`
in any case, or an empty field) is refused: it is neither a class nor a finite number. What the labels mean (the
task, classes across splits) is fine-tuning's business (`finetuning.tables`).
"""
import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.common.files import open_text
from dnabert2.errors import InputError, located
from dnabert2.tokenizer.dna import IUPAC_DNA

log = logging.getLogger(__name__)

_NOT_DNA = re.compile(f"[^{IUPAC_DNA}]")
ID_COLUMNS = ("id", "name")
MISSING_LABELS = {"", "nan", "+nan", "-nan", "na", "n/a", "#n/a", "null"}  # compared in lower case
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
