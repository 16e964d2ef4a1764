"""Reading and checking fine-tuning tables: layouts, tasks, label mapping, and every rejection with file and line."""
import gzip

import numpy as np
import pytest

from conftest import TEST_DATA
from dnabert2.common.tables import read_table
from dnabert2.errors import InputError
from dnabert2.finetuning.tables import find_split_files, load_tables, subsample

SEQ = "ACGTACGTACGTAC"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def fixture(kind, ext):
    return [TEST_DATA / f"ft_{kind}_{split}.{ext}" for split in ("train", "dev", "test")]


def test_gue_folder_reads_as_binary_classification(shared):
    folder = shared("gue", "prom", "prom_core_tata")
    data = load_tables(data=folder)
    assert data.task == "classification" and data.label_names == ["0", "1"]
    with open(folder / "dev.csv") as handle:
        rows = [line.rstrip("\n").split(",") for line in handle][1:]
    assert len(data.dev.table) == len(rows)
    assert data.dev.table.sequences[5] == rows[5][0].upper()
    assert data.dev.targets.tolist() == [int(r[1]) for r in rows]
    assert data.dev.table.lines[:2] == [2, 3]


def test_string_labels_are_mapped_in_alphabetical_order():
    data = load_tables(*fixture("strings", "csv"))
    assert data.task == "classification"
    assert data.label_names == ["at_rich", "balanced", "gc_rich"]
    raw = [labels[0] for labels in data.train.table.labels]
    assert [data.label_names[t] for t in data.train.targets] == raw


def test_pairs_from_named_header_and_from_three_positional_columns(tmp_path):
    data = load_tables(*fixture("pairs", "tsv"))
    assert data.pairs and data.task == "classification"
    assert len(data.train.table.sequences_b) == len(data.train.table.sequences)
    # GUE-style pair file: any 3-column header is read as sequence_a, sequence_b, label
    rows = "".join(f"{SEQ},{SEQ[::-1]},{i % 2}\n" for i in range(4))
    train = write(tmp_path, "train.csv", "x1,x2,y\n" + rows)
    dev = write(tmp_path, "dev.csv", "x1,x2,y\n" + rows)
    data = load_tables(train, dev)
    assert data.pairs and data.train.table.sequences_b[0] == SEQ[::-1]
    assert data.train.targets.tolist() == [0, 1, 0, 1]


def test_regression_and_multilabel_are_inferred():
    data = load_tables(*fixture("regression", "csv"))
    assert data.task == "regression" and data.train.targets.dtype == np.float32
    with open(fixture("regression", "csv")[0]) as handle:
        first = float(handle.read().splitlines()[1].split(",")[1])
    assert data.train.targets[0] == pytest.approx(first)
    data = load_tables(*fixture("multilabel", "tsv"))
    assert data.task == "multilabel"
    assert data.label_names == ["has_TATA", "has_CpG", "gc_rich"]
    assert data.train.targets.shape == (len(data.train.table), 3)
    assert set(np.unique(data.train.targets)) <= {0.0, 1.0}


def test_integer_labels_can_be_forced_to_regression(tmp_path):
    rows = "".join(f"{SEQ},{i}\n" for i in range(4))
    train = write(tmp_path, "train.csv", "sequence,label\n" + rows)
    data = load_tables(train, train, task="regression")
    assert data.task == "regression" and data.train.targets.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_delimiter_sniffed_for_other_extensions_and_gzip(tmp_path):
    rows = "".join(f"{SEQ}\t{i % 2}\n" for i in range(4))
    train = write(tmp_path, "train.txt", "sequence\tlabel\n" + rows)
    dev = tmp_path / "dev.tsv.gz"
    with gzip.open(dev, "wt") as handle:
        handle.write("sequence\tlabel\n" + rows)
    data = load_tables(train, dev)
    assert len(data.dev.table) == 4 and data.dev.targets.tolist() == [0, 1, 0, 1]


def test_lower_case_and_iupac_letters_are_accepted(tmp_path):
    path = write(tmp_path, "t.csv", "sequence,label\nacgtNRYKM,a\n")
    assert read_table(path).sequences == ["ACGTNRYKM"]


def test_find_split_files(tmp_path):
    for name in ("train.csv", "dev.csv"):
        write(tmp_path, name, "sequence,label\n")
    assert find_split_files(tmp_path)["test"] is None
    write(tmp_path, "train.tsv", "sequence\tlabel\n")
    with pytest.raises(InputError, match="several train files"):
        find_split_files(tmp_path)


@pytest.mark.parametrize("text, line, reason", [
    ("seq,y,z,w\nACGT,1,2,3\n", 1, "missing columns"),
    ("sequence\tlabel\nACGTACGT\t1\nACGT,1\n", 3, "mixed delimiters"),
    ("sequence,label\nACGTACGT,1\nACGT\t,0\n", 3, "mixed delimiters"),
    ("sequence,label\nACGTACGT,1\nACGXT,0\n", 3, "invalid character 'X' at position 4"),
    ("sequence,label\nACGT-ACGT,1\n", 2, "invalid character '-'"),
    ("sequence,label\nACGT,1\n ,0\n", 3, "empty sequence"),
    ("sequence,label\nACGT,1\nACGT,\n", 3, "missing label in column 'label'"),
    ("sequence,label\nACGT,1\nACGT,0,1\n", 3, "expected 2 fields"),
    ("ACGTACGTAA,1\nACGT,0\n", 1, "no header line"),
    ("sequence_a,label\nACGT,1\n", 1, "missing column 'sequence_b'"),
    ("sequence,label\n", 1, "no rows after the header"),
])
def test_bad_tables_name_file_line_and_reason(tmp_path, text, line, reason):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as error:
        read_table(path)
    message = str(error.value)
    assert message.startswith(f"{path}: line {line}: ")
    assert reason in message


def test_label_only_in_dev_is_rejected_with_its_line(tmp_path):
    train = write(tmp_path, "train.csv", f"sequence,label\n{SEQ},cat\n{SEQ},dog\n")
    dev = write(tmp_path, "dev.csv", f"sequence,label\n{SEQ},dog\n{SEQ},cow\n")
    with pytest.raises(InputError) as error:
        load_tables(train, dev)
    assert str(error.value).startswith(f"{dev}: line 3: label 'cow' does not occur in the training data")


def test_one_class_training_data_is_rejected(tmp_path):
    train = write(tmp_path, "train.csv", f"sequence,label\n{SEQ},1\n{SEQ},1\n")
    with pytest.raises(InputError, match=r"train\.csv: the training data has one class only \('1'\)"):
        load_tables(train, train)


def test_regression_needs_numbers_and_multilabel_needs_zero_one(tmp_path):
    train = write(tmp_path, "train.csv", f"sequence,label\n{SEQ},0.5\n{SEQ},high\n")
    with pytest.raises(InputError, match=r"train\.csv: line 3: label 'high' in column 'label' is not a number"):
        load_tables(train, train, task="regression")
    multi = write(tmp_path, "multi.tsv", f"sequence\ta\tb\n{SEQ}\t1\t0\n{SEQ}\t2\t1\n")
    with pytest.raises(InputError, match=r"multi\.tsv: line 3: multi-label column 'a' must hold 0 or 1"):
        load_tables(multi, multi)


def test_dev_layout_must_match_train(tmp_path):
    train = write(tmp_path, "train.csv", f"sequence,label\n{SEQ},0\n{SEQ},1\n")
    dev = write(tmp_path, "dev.csv", f"sequence_a,sequence_b,label\n{SEQ},{SEQ},0\n")
    with pytest.raises(InputError, match=r"dev\.csv: line 1: holds sequence pairs"):
        load_tables(train, dev)


def test_subsample_is_reproducible_and_keeps_targets_aligned():
    data = load_tables(*fixture("strings", "csv"))
    a = subsample(data.train, 10, seed=3)
    b = subsample(data.train, 10, seed=3)
    assert a.table.lines == b.table.lines and len(a.table) == 10
    for line, target in zip(a.table.lines, a.targets):
        i = data.train.table.lines.index(line)
        assert data.train.targets[i] == target


def test_id_column_is_carried_and_not_a_label(tmp_path):
    path = write(tmp_path, "t.tsv", f"name\tsequence\tlabel\nr1\t{SEQ}\t0\nr2\t{SEQ}\t1\n")
    table = read_table(path)
    assert table.ids == ["r1", "r2"] and table.label_columns == ["label"]
    assert table.labels == [("0",), ("1",)]
