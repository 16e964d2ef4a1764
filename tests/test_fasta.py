"""Streaming FASTA reading: formats, chunking, many files, and clear errors for what is not FASTA."""
import gzip
import random

import pytest

from dnabert2.errors import InputError
from dnabert2.tokenizer import read_fasta, read_fasta_chunks

RECORDS = [("chr1", "ACGTacgtNNNNACGTRYKM" * 13), ("empty", ""), ("chr2 description here", "GATTACA" * 50),
           ("chrM", "n" * 10 + "ACGT-.*" * 3)]


def fasta_text(records, width=60):
    lines = []
    for name, seq in records:
        lines.append(f">{name}")
        lines.extend(seq[i:i + width] for i in range(0, len(seq), width))
    return "\n".join(lines) + "\n"


def expected(records):
    return [(name.split()[0], seq) for name, seq in records]


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(fasta_text(RECORDS))
    return path


def test_plain_gzip_and_bgzip_read_the_same(tmp_path, plain):
    import pysam

    gz = tmp_path / "x.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bgz = tmp_path / "x.bgz.fa.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    for path in (plain, gz, bgz):
        assert list(read_fasta(path)) == expected(RECORDS), path


def test_windows_line_ends_blank_lines_and_ragged_widths(tmp_path):
    path = tmp_path / "x.fa"
    path.write_bytes(b"\n>a x\r\nAC\r\nGTT\r\n\r\n>b\nGG\nC\n")
    assert list(read_fasta(path)) == [("a", "ACGTT"), ("b", "GGC")]


def test_chunks_join_to_records_and_stay_bounded(tmp_path):
    rng = random.Random(0)
    records = [(f"r{i}", "".join(rng.choice("ACGTNacgt") for _ in range(rng.randrange(0, 5000)))) for i in range(8)]
    path = tmp_path / "x.fa"
    path.write_text(fasta_text(records, width=70))
    joined = []
    for name, chunk, first in read_fasta_chunks(path, chunk_size=500):
        assert len(chunk) < 500 + 70
        if first:
            joined.append([name, ""])
        joined[-1][1] += chunk
    assert [tuple(r) for r in joined] == records


def test_many_files_in_order(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.fa"
        path.write_text(fasta_text([(f"f{i}", "ACGT" * (i + 1))]))
        paths.append(path)
    assert list(read_fasta(paths)) == [("f0", "ACGT"), ("f1", "ACGT" * 2), ("f2", "ACGT" * 3)]
    with_path = list(read_fasta_chunks(paths, with_path=True))
    assert [p for p, *_ in with_path] == paths


def test_real_genome_matches_biopython(shared):
    from Bio import SeqIO

    path = shared("genomes", "human_hg38_chr2_1-2333275", "chr2_1-2333275.fa.gz")
    with gzip.open(path, "rt") as fh:
        reference = [(r.id, str(r.seq)) for r in SeqIO.parse(fh, "fasta")]
    assert list(read_fasta(path)) == reference


def _bad_files(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope.fa", "no such file")
    (tmp_path / "empty.fa").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.fa", "empty file")
    (tmp_path / "empty.fa.gz").write_bytes(gzip.compress(b"\n\n"))
    cases["empty gzip"] = (tmp_path / "empty.fa.gz", "empty file")
    (tmp_path / "regions.bed").write_text("chr1\t100\t200\tpeak1\n")
    cases["bed"] = (tmp_path / "regions.bed", "line 1: not a FASTA file")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    cases["binary"] = (tmp_path / "blob.bin", "binary data, not a FASTA file")
    (tmp_path / "bad.fa").write_text(">a\nACGT\nAC GT\n")
    cases["bad char"] = (tmp_path / "bad.fa", "line 3: invalid character ' '")
    (tmp_path / "nul.fa").write_bytes(b">a\nACGT\nAC\x00GT\n")
    cases["nul"] = (tmp_path / "nul.fa", "line 3: binary data")
    data = gzip.compress(fasta_text([("a", "ACGT" * 5000)]).encode())
    (tmp_path / "cut.fa.gz").write_bytes(data[: len(data) // 2])
    cases["truncated gzip"] = (tmp_path / "cut.fa.gz", "corrupt or truncated gzip")
    import bz2
    (tmp_path / "x.fa.bz2").write_bytes(bz2.compress(b">a\nACGT\n"))
    cases["bzip2"] = (tmp_path / "x.fa.bz2", "bzip2-compressed; give plain, gzip or bgzip FASTA")
    (tmp_path / "folder.fa").mkdir()
    cases["folder"] = (tmp_path / "folder.fa", "is a folder")
    return cases


@pytest.mark.parametrize("case", ["missing", "empty", "empty gzip", "bed", "binary", "bad char", "nul",
                                  "truncated gzip", "bzip2", "folder"])
def test_bad_files_raise_input_error_naming_file_and_reason(tmp_path, case):
    path, reason = _bad_files(tmp_path)[case]
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert "\n" not in message


def test_every_file_is_checked_before_any_is_read(tmp_path, plain):
    reader = read_fasta([plain, tmp_path / "missing.fa"])
    with pytest.raises(InputError, match="missing.fa: no such file"):
        next(reader)


def _flatfile(tmp_path, records, form, compress=False):
    """Records written by Biopython as a GenBank or EMBL flat file (gzip-compressed on request)."""
    import io

    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    text = io.StringIO()
    SeqIO.write([SeqRecord(Seq(seq), id=name, name=name.split(".")[0], description="test record",
                           annotations={"molecule_type": "DNA"}) for name, seq in records], text, form)
    path = tmp_path / f"genome.{form}{'.gz' if compress else ''}"
    data = text.getvalue().encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("form", ["genbank", "embl"])
@pytest.mark.parametrize("compress", [False, True])
def test_genbank_and_embl_files_read_like_fasta(tmp_path, form, compress):
    records = [("NC_000001.1", "ACGTNNACGTRYKM" * 100), ("NC_000002.3", "GATTACA" * 300)]
    path = _flatfile(tmp_path, records, form, compress)
    assert list(read_fasta(path)) == records
    chunks = list(read_fasta_chunks(path, chunk_size=500))
    assert max(len(c) for _, c, _ in chunks) <= 500
    assert [name for name, _, first in chunks if first] == ["NC_000001.1", "NC_000002.3"]


def test_flat_file_without_sequence_and_broken_flat_file_name_the_file(tmp_path):
    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    annotation_only = tmp_path / "annotation.gb"  # a record that says 20 bp but holds none (as Biopython writes it)
    SeqIO.write([SeqRecord(Seq(None, length=20), id="NC_1.1", name="NC_1", description="no sequence",
                           annotations={"molecule_type": "DNA"})], annotation_only, "genbank")
    with pytest.raises(InputError, match="annotation.gb: genbank record 1 .*holds no sequence"):
        list(read_fasta(annotation_only))
    broken = tmp_path / "broken.gb"  # a download cut short inside its features table
    broken.write_text("LOCUS       NC_1                      20 bp    DNA              UNK 01-JAN-1980\n"
                      "DEFINITION  cut short.\nFEATURES             Location/Qualifiers\n")
    with pytest.raises(InputError, match="broken.gb: not a readable genbank file"):
        list(read_fasta(broken))
