"""Regions from BED + reference and from FASTA; the reference reader; window tiling."""
import gzip
import shutil
from pathlib import Path

import pytest

from dnabert2.errors import InputError
from dnabert2.regions.reference import Reference
from dnabert2.regions.source import RegionSource
from dnabert2.regions.windows import check_tiling, count_windows, tile

from conftest import CHR2, revcomp



@pytest.fixture(scope="module")
def chr2_ref():
    from conftest import shared_path

    return shared_path(*CHR2, "chr2_1-2333275.fa.gz")


@pytest.fixture(scope="module")
def promoters():
    from conftest import shared_path

    return shared_path(*CHR2, "promoters_chr2_1-2333275.bed")


def plain_bed(path):
    """The BED rows the plain way: (chrom, start, end, name, strand)."""
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        rows.append((f[0], int(f[1]), int(f[2]), f[3], "-" if f[5] == "-" else "+"))
    return rows


def test_promoter_bed_reads_in_order_with_strands(chr2_ref, promoters):
    import pysam

    source = RegionSource(bed=promoters, ref=chr2_ref).scan()
    regions = list(source)
    expected = plain_bed(promoters)
    assert source.count == len(expected) == 67
    assert [(r.chrom, r.start, r.end, r.name, r.strand) for r in regions] == expected
    assert any(r.strand == "-" for r in regions)
    fasta = pysam.FastaFile(str(chr2_ref))
    for r in regions[:3] + [r for r in regions if r.strand == "-"][:3]:
        genomic = fasta.fetch(r.chrom, r.start, r.end).upper()
        want = revcomp(genomic) if r.strand == "-" else genomic
        assert r.fetch() == want
        assert r.fetch(10, 50) == want[10:60]
        assert r.fetch(10, 50, reverse=True) == revcomp(want)[10:60]
    source.close()


def test_bed_header_track_browser_comments_gzip_and_bed12(tmp_path, chr2_ref, shared):
    myt1l = shared(*CHR2, "MYT1L_MANE_AND_PE.bed")
    lines = open(myt1l).read().splitlines()
    text = "\n".join(["browser position chr2:1-1000", "track name=test", "# a comment", "chrom\tstart\tend",
                      lines[0], "", lines[1]]) + "\n"
    path = tmp_path / "x.bed.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    regions = list(RegionSource(bed=path, ref=chr2_ref).scan())
    assert [(r.start, r.end, r.name, r.strand) for r in regions] == [
        (1789112, 2331275, "ENST00000647738.2", "-"), (1860161, 1860251, "MYT1L_PE", "+")]


def test_bed3_default_names_and_space_separated(tmp_path, chr2_ref):
    path = tmp_path / "x.bed"
    path.write_text("chr2 100 200\nchr2\t300\t350\tpeak\t0\t-\n")
    regions = list(RegionSource(bed=path, ref=chr2_ref).scan())
    assert [r.name for r in regions] == ["chr2:100-200(+)", "peak"]
    assert regions[1].strand == "-"


@pytest.mark.parametrize("line, reason", [
    ("chr2\t500\t400", "line 2: end (400) is before start (500)"),
    ("chr2\t-5\t400", "line 2: negative coordinate (start -5, end 400)"),
    ("chrX\t100\t200", "line 2: chromosome 'chrX' is not in the reference"),
    ("chr2\t2333200\t2333300", "line 2: region chr2:2333200-2333300 is past the end of chr2 (2333275 bp); use --clip"),
    ("chr2\t100", "line 2: expected at least 3 tab-separated columns (chrom, start, end), found 2"),
    ("chr2\t100\tabc", "line 2: end 'abc' is not an integer"),
    ("chr2\t100\t200\tx\t0\tW", "line 2: strand (column 6) is 'W'; expected +, - or ."),
    ("chr2\t100\t100", "line 2: empty region (start = end = 100)"),
])
def test_bad_bed_lines_name_the_line(tmp_path, chr2_ref, line, reason):
    path = tmp_path / "bad.bed"
    path.write_text(f"chr2\t10\t20\n{line}\nchr2\t30\t40\n")
    with pytest.raises(InputError) as e:
        RegionSource(bed=path, ref=chr2_ref).scan()
    assert str(e.value).startswith(f"{path}: {reason}")


def test_clip_and_resize(tmp_path, chr2_ref):
    path = tmp_path / "x.bed"
    path.write_text("chr2\t2333200\t2333300\n")
    (region,) = RegionSource(bed=path, ref=chr2_ref, clip=True).scan()
    assert (region.start, region.end) == (2333200, 2333275)
    path.write_text("chr2\t1000\t1101\tr\t0\t-\n")
    (region,) = RegionSource(bed=path, ref=chr2_ref, resize=40).scan()
    assert (region.start, region.end, region.length) == (1030, 1070, 40)  # centre 1050
    path.write_text("chr2\t10\t20\n")
    with pytest.raises(InputError, match=r"line 1: region chr2:-5-35 is past the end .* after --resize"):
        RegionSource(bed=path, ref=chr2_ref, resize=40).scan()


def test_empty_bed_and_missing_ref(tmp_path, chr2_ref):
    path = tmp_path / "empty.bed"
    path.write_text("track name=nothing\n# only comments\n")
    with pytest.raises(InputError, match="no regions found"):
        RegionSource(bed=path, ref=chr2_ref).scan()
    with pytest.raises(InputError, match="give it with --ref"):
        RegionSource(bed=path)
    with pytest.raises(InputError, match="--fasta FILE, or --bed FILE"):
        RegionSource()


def test_plain_reference_is_indexed_and_pyfaidx_agrees(tmp_path, chr2_ref, caplog):
    import pysam

    seq = pysam.FastaFile(str(chr2_ref)).fetch("chr2", 200000, 203000)
    plain = tmp_path / "piece.fa"
    plain.write_text(">chr2\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n>other\nACGTN\n")
    with caplog.at_level("WARNING"):
        ref = Reference(plain)
    assert "indexing the reference" in caplog.text
    assert (tmp_path / "piece.fa.fai").exists()
    assert ref.lengths == {"chr2": 3000, "other": 5}
    assert ref.fetch("chr2", 100, 200) == seq[100:200]
    backup = Reference(plain, backend="pyfaidx")
    assert backup.lengths == ref.lengths
    assert backup.fetch("chr2", 100, 200) == seq[100:200]
    bgzipped = Reference(chr2_ref, backend="pyfaidx")
    assert bgzipped.fetch("chr2", 200100, 200200) == seq[100:200]


def small_plain_fasta(folder):
    """A plain FASTA of three records (soft-masked bases, Ns, header descriptions, short last lines), unindexed."""
    records = {"chr1": "ACGTacgtNNACGTACGTTTGCA", "chr2": "ttttGGGGccccAAAAnnGT", "chrM": "ACG"}
    path = folder / "small.fa"
    with open(path, "w") as fh:
        for name, seq in records.items():
            fh.write(f">{name} a description\n" + "".join(seq[i:i + 8] + "\n" for i in range(0, len(seq), 8)))
    return path, records


SMALL_FETCHES = [("chr1", 0, 23), ("chr1", 3, 11), ("chr1", 7, 8), ("chr1", 16, 23), ("chr2", 0, 20),
                 ("chr2", 15, 20), ("chrM", 0, 3), ("chrM", 1, 2)]


@pytest.mark.parametrize("backend", ["pysam", "pyfaidx"])
def test_both_reference_backends_read_a_plain_fasta_alike(tmp_path, backend):
    path, records = small_plain_fasta(tmp_path)
    with Reference(path, backend=backend) as ref:
        assert ref.backend == backend
        assert (tmp_path / "small.fa.fai").exists()
        assert ref.lengths == {name: len(seq) for name, seq in records.items()}
        assert [ref.fetch(*where) for where in SMALL_FETCHES] == [records[c][a:b] for c, a, b in SMALL_FETCHES]


def test_reference_falls_back_to_pyfaidx_without_pysam(tmp_path, monkeypatch, caplog):
    import sys

    path, records = small_plain_fasta(tmp_path)
    monkeypatch.setitem(sys.modules, "pysam", None)  # `import pysam` raises ImportError, as when it is not installed
    with pytest.raises(ImportError):
        import pysam  # noqa: F401
    with caplog.at_level("INFO"):
        ref = Reference(path)
    assert ref.backend == "pyfaidx"
    assert "pysam is not installed; reading the reference" in caplog.text
    assert (tmp_path / "small.fa.fai").exists()  # pyfaidx indexed it
    assert [ref.fetch(*where) for where in SMALL_FETCHES] == [records[c][a:b] for c, a, b in SMALL_FETCHES]
    ref.close()
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t2\t12\tr1\t0\t-\nchr2\t4\t20\n")
    minus, plus = RegionSource(bed=bed, ref=path).scan()
    assert minus.reference.backend == "pyfaidx"
    assert minus.fetch() == revcomp(records["chr1"][2:12].upper())
    assert plus.fetch() == records["chr2"][4:20].upper()


def test_reference_falls_back_to_pyfaidx_when_pysam_cannot_index(tmp_path, monkeypatch, caplog, chr2_ref):
    import pysam

    path, records = small_plain_fasta(tmp_path)

    def refuse(*args, **kwargs):
        raise OSError("error when building the index (simulated)")

    monkeypatch.setattr(pysam, "FastaFile", refuse)
    with caplog.at_level("WARNING"):
        ref = Reference(path)
    assert ref.backend == "pyfaidx"
    assert "pysam cannot read the reference" in caplog.text and "(simulated)" in caplog.text
    assert [ref.fetch(*where) for where in SMALL_FETCHES] == [records[c][a:b] for c, a, b in SMALL_FETCHES]
    ref.close()
    with pytest.raises(InputError, match=r"cannot read it as an indexed FASTA \(error when building"):
        Reference(path, backend="pysam")  # a backend asked for by name: no fallback
    with pytest.raises(InputError, match=r"cannot read it as an indexed FASTA \(error when building"):
        Reference(chr2_ref)  # bgzip: pysam's error is reported, not hidden behind a fallback


def read_only(monkeypatch, *folders):
    """Make the reference code see `folders` (and everything under them) as read-only: root may write anywhere, so
    os.access is what a user would get from it."""
    import os

    real_access = os.access
    roots = [Path(f).resolve() for f in folders]

    def access(path, mode):
        path = Path(path).resolve()
        if mode == os.W_OK and any(path == root or root in path.parents for root in roots):
            return False
        return real_access(path, mode)

    monkeypatch.setattr("dnabert2.regions.refindex.os.access", access)


def wrapped(records, width):
    """FASTA text of {name: sequence} with `width` bases per line."""
    return "".join(f">{name} some description\n" + "".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
                   for name, seq in records.items())


RECORDS = {"chr1": ("ACGTTGCA" * 40)[:317], "chr2": ("GGATCCTTAAGC" * 30)[:300], "chrM": "ACGTAC"}
FETCHES = [("chr1", 0, 317), ("chr1", 59, 61), ("chr1", 250, 317), ("chr2", 0, 300), ("chr2", 119, 241),
           ("chrM", 0, 6)]


def fetched(ref):
    return [ref.fetch(*where) for where in FETCHES]


def expected(records=RECORDS):
    return [records[c][a:b] for c, a, b in FETCHES]


def test_unindexed_reference_in_read_only_folder_is_indexed_in_the_cache(tmp_path, monkeypatch, caplog):
    from dnabert2.regions.refindex import cache_folder

    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "g.fa").write_text(wrapped(RECORDS, 60))
    read_only(monkeypatch, folder)
    with caplog.at_level("WARNING"):
        ref = Reference(folder / "g.fa", index_dir=tmp_path / "cache")
    assert fetched(ref) == expected()
    assert sorted(p.name for p in folder.iterdir()) == ["g.fa"]  # nothing written beside it
    assert ref.indexed.fai == cache_folder(folder / "g.fa", tmp_path / "cache") / "g.fa.fai"
    assert ref.indexed.fai.is_file() and str(tmp_path / "cache") in caplog.text
    ref.close()
    # the same name in another folder gets its own cache folder
    other = tmp_path / "ro2"
    other.mkdir()
    (other / "g.fa").write_text(wrapped({"x": "ACGT" * 10}, 7))
    read_only(monkeypatch, folder, other)
    with Reference(other / "g.fa", index_dir=tmp_path / "cache") as second:
        assert second.indexed.fai.parent != ref.indexed.fai.parent
        assert second.fetch("x", 0, 12) == "ACGTACGTACGT"
    caplog.clear()
    with caplog.at_level("WARNING"), Reference(folder / "g.fa", index_dir=tmp_path / "cache") as again:
        assert fetched(again) == expected()
    assert "indexing" not in caplog.text  # the cached index is reused


def test_cache_comes_from_the_environment(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "g.fa").write_text(wrapped(RECORDS, 50))
    read_only(monkeypatch, folder)
    monkeypatch.setenv("DNABERT2_CACHE", str(tmp_path / "env_cache"))
    with Reference(folder / "g.fa") as ref:
        assert fetched(ref) == expected()
        assert str(ref.indexed.fai).startswith(str(tmp_path / "env_cache"))


def test_read_only_folder_and_cache_says_how_to_fix_it(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "g.fa").write_text(wrapped(RECORDS, 60))
    cache = tmp_path / "ro_cache"
    cache.mkdir()
    read_only(monkeypatch, folder, cache)
    with pytest.raises(InputError, match=r"--ref .*g\.fa: its folder is read-only and so is the index folder .*; "
                                         r"give --index-dir DIR \(or set DNABERT2_CACHE=DIR\)"):
        Reference(folder / "g.fa", index_dir=cache)
    assert sorted(p.name for p in folder.iterdir()) == ["g.fa"]


def test_bgzip_reference_without_index_in_read_only_folder(tmp_path, chr2_ref, monkeypatch):
    import pysam

    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(chr2_ref, folder / "g.fa.gz")  # bgzipped, no .fai/.gzi beside it
    read_only(monkeypatch, folder)
    with Reference(folder / "g.fa.gz", index_dir=tmp_path / "cache") as ref:
        assert ref.indexed.gzi.is_file() and ref.indexed.gzi.parent.parent.parent == tmp_path / "cache"
        assert ref.fetch("chr2", 200000, 200500) == pysam.FastaFile(str(chr2_ref)).fetch("chr2", 200000, 200500)
    assert sorted(p.name for p in folder.iterdir()) == ["g.fa.gz"]


def test_plain_gzip_reference_is_read_through_a_bgzip_copy(tmp_path, monkeypatch, caplog):
    path = tmp_path / "g.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(wrapped(RECORDS, 60))
    monkeypatch.setenv("DNABERT2_CACHE", str(tmp_path / "cache"))
    with caplog.at_level("WARNING"), Reference(path) as ref:
        assert fetched(ref) == expected()
        copy = ref.indexed.fasta
    assert "gzip-compressed, not bgzip" in caplog.text and str(copy) in caplog.text
    assert copy.suffix == ".bgz" and str(copy).startswith(str(tmp_path / "cache"))
    with open(copy, "rb") as fh:
        assert fh.read(16)[12:14] == b"BC"  # BGZF blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "g.fa.gz"]
    caplog.clear()
    with caplog.at_level("WARNING"), Reference(path, backend="pyfaidx") as again:  # made once, read by both backends
        assert again.indexed.fasta == copy and fetched(again) == expected()
    assert "gzip-compressed" not in caplog.text


def test_stale_index_older_than_the_fasta_is_rebuilt(tmp_path, caplog):
    import os

    path = tmp_path / "g.fa"
    path.write_text(wrapped(RECORDS, 60))
    Reference(path).close()
    fai = tmp_path / "g.fa.fai"
    os.utime(fai, ns=(path.stat().st_mtime_ns - 10**9,) * 2)
    with caplog.at_level("WARNING"), Reference(path) as ref:
        assert fetched(ref) == expected()
    assert "stale (g.fa.fai is older than the FASTA)" in caplog.text
    assert fai.stat().st_mtime_ns >= path.stat().st_mtime_ns


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("backend", ["pysam", "pyfaidx"])
def test_fasta_rewrapped_after_indexing_gives_the_right_sequence(tmp_path, caplog, compressed, backend):
    """Issue 12, case 2: a FASTA re-wrapped after indexing, its .fai still newer, read the wrong bases before."""
    import os

    import pysam

    records = {"chr1": RECORDS["chr1"], "chr2": RECORDS["chr2"][::-1], "chrM": RECORDS["chrM"]}
    path = tmp_path / ("g.fa.gz" if compressed else "g.fa")

    def write(width):
        (tmp_path / "g.fa").write_text(wrapped(records, width))
        if compressed:
            pysam.tabix_compress(str(tmp_path / "g.fa"), str(path), force=True)

    write(60)
    Reference(path).close()
    write(70)  # re-wrapped; then the index files are touched, so their age says nothing
    for index in tmp_path.glob(path.name + ".*i"):
        os.utime(index)
    stale = pysam.FastaFile(str(path)).fetch("chr2", 100, 160)  # what htslib makes of the old index
    assert stale != records["chr2"][100:160]
    with caplog.at_level("WARNING"), Reference(path, backend=backend) as ref:
        assert fetched(ref) == expected(records)
    assert "index is stale (g.fa" in caplog.text and "disagrees with the FASTA" in caplog.text


def test_stale_index_in_read_only_folder_is_rebuilt_in_the_cache(tmp_path, monkeypatch, caplog):
    import os

    path = tmp_path / "g.fa"
    path.write_text(wrapped(RECORDS, 60))
    Reference(path).close()
    path.write_text(wrapped(RECORDS, 33))
    os.utime(tmp_path / "g.fa.fai")
    read_only(monkeypatch, tmp_path)
    with caplog.at_level("WARNING"), Reference(path, index_dir=tmp_path.parent / f"{tmp_path.name}_cache") as ref:
        assert fetched(ref) == expected()
        assert ref.indexed.fai.parent != tmp_path
    assert "stale" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"), Reference(path, index_dir=tmp_path.parent / f"{tmp_path.name}_cache") as ref:
        assert fetched(ref) == expected()
    assert "using the fresh one in" in caplog.text  # the stale one beside it is never used silently


@pytest.mark.parametrize("edit, reason", [
    (lambda t: t.replace(">chr2 some description\n", ">chr2\n"), "no header line ends right before"),
    (lambda t: t.replace(">chrM some description", ">chrX some description"), "is not its header"),
    (lambda t: t + ">extra\nACGT\n", None),  # a record appended after indexing: the index still holds for the rest
    (lambda t: t.replace("ACGTAC\n", "ACGTACGG\n"), "its first line is longer than the recorded 6 bases"),
    (lambda t: t.replace("\n>chr2", "A\n>chr2"), "does not end where the index says"),  # last line of chr1 longer
])
def test_index_check_reasons(tmp_path, edit, reason):
    import os

    from dnabert2.regions.faicheck import stale_reason

    path = tmp_path / "g.fa"
    text = wrapped(RECORDS, 60)
    path.write_text(text)
    Reference(path).close()
    assert stale_reason(path, tmp_path / "g.fa.fai") is None
    path.write_text(edit(text))
    os.utime(tmp_path / "g.fa.fai")
    got = stale_reason(path, tmp_path / "g.fa.fai")
    assert (got is None) if reason is None else (reason in got)


def test_shared_bgzip_index_is_fresh(chr2_ref):
    from dnabert2.regions.faicheck import stale_reason

    assert stale_reason(chr2_ref, f"{chr2_ref}.fai", f"{chr2_ref}.gzi") is None


def test_fasta_records_are_regions(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">a first\nACGTacgt\nNNAC\n>b\nGGGG\n")
    regions = list(RegionSource(fasta=path).scan())
    assert [(r.name, r.start, r.end, r.strand) for r in regions] == [("a", 0, 12, "+"), ("b", 0, 4, "+")]
    assert regions[0].fetch() == "ACGTACGTNNAC"
    (a, b) = RegionSource(fasta=path, resize=4).scan()
    assert (a.start, a.end, a.fetch()) == (4, 8, "ACGT")  # bases 4..8 of ACGTacgtNNAC, upper-cased
    assert b.fetch() == "GGGG"


@pytest.mark.parametrize("length", [1, 5, 1999, 2000, 2001, 4000, 5000, 10007])
@pytest.mark.parametrize("window, stride", [(2000, 2000), (2000, 500), (7, 3), (1, 1)])
def test_tiling_covers_the_region(length, window, stride):
    pieces = tile(length, window, stride)
    assert len(pieces) == count_windows(length, window, stride)
    assert pieces[0][0] == 0 and pieces[-1][0] + pieces[-1][1] == length
    covered = set()
    for offset, size in pieces:
        assert 1 <= size <= window
        covered.update(range(offset, offset + size))
    assert covered == set(range(length))
    assert all(b[0] - a[0] == stride for a, b in zip(pieces, pieces[1:]))


def test_tiling_options_are_checked():
    assert check_tiling(100, None) == 100
    with pytest.raises(InputError, match="--stride 200: must be between 1 and --window"):
        check_tiling(100, 200)
    with pytest.raises(InputError, match="--window 0"):
        check_tiling(0, None)


def test_blocks_keep_input_order_and_grow_to_the_lookahead():
    from dnabert2.regions.region import Region
    from dnabert2.regions.windows import blocks

    regions = [(row, Region("c", 0, length, f"r{row}")) for row, length in enumerate([50, 7, 300, 1, 99] * 20)]
    got = list(blocks(regions, window=10, stride=10, passes=2, lookahead=40, first=4))
    assert [len(b) for b in got[:5]] == [4, 8, 16, 32, 40]
    flat = [(w.row, w.strand_pass, w.offset, w.size) for b in got for w in b]
    want = [(row, p, 10 * i, min(10, r.length - 10 * i)) for row, r in regions for p in range(2)
            for i in range(-(-r.length // 10))]
    assert flat == want
    assert [w.row for b in got for w in b if w.last] == [row for row, _ in regions]
