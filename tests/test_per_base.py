"""`dnabert2 embed --per-base`: one vector per base, the vector of the token covering it, on the region's strand.

Compared with a plain computation written here: cut the windows by hand, run the encoder on each, and give every
base of a window the last-layer vector of the token whose character span holds it.
"""
import h5py
import numpy as np
import pytest
import torch

from conftest import revcomp, shared_path

KIRCHER = ("variants", "kircher2019_satmut_mpra")


@pytest.fixture(scope="module")
def elements():
    import pysam

    with pysam.FastaFile(str(shared_path(*KIRCHER, "elements_grch37.fa"))) as fa:
        return {name: fa.fetch(name) for name in fa.references}


@pytest.fixture(scope="module")
def per_base_reference(plain_tiny):
    """sequence, window -> [len, H]: each base gets its covering token's vector, window by window."""
    tok, encoder = plain_tiny

    def run(seq, window):
        rows = []
        for w in range(0, len(seq), window):
            piece = seq[w:w + window].upper()
            enc = tok(piece, return_offsets_mapping=True)
            with torch.no_grad():
                hidden = encoder(input_ids=torch.tensor([enc["input_ids"]])).last_hidden_state[0].numpy()
            for base in range(len(piece)):
                k = next(i for i, (a, b) in enumerate(enc["offset_mapping"][1:-1]) if a <= base < b)
                rows.append(hidden[k + 1])
        return np.stack(rows)

    return run


def test_per_base_rows_are_the_covering_tokens_vectors_on_both_strands(tmp_path, elements, per_base_reference,
                                                                      tiny_model_dir, run_cli):
    ref = tmp_path / "ref.fa"
    seq = elements["F9"]
    ref.write_text(f">F9\n{seq[:100]}NNN{seq[103:200].lower()}{seq[200:]}\n")
    bed = tmp_path / "r.bed"
    bed.write_text("F9\t20\t160\tplus\t0\t+\nF9\t90\t233\tminus\t0\t-\n")
    out = tmp_path / "pb.h5"
    result = run_cli("embed", "--bed", bed, "--ref", ref, "--model", tiny_model_dir, "--per-base", "--window", 60,
                     "-o", out, "-q")
    assert result.exit_code == 0, result.output
    genome = ref.read_text().split("\n")[1]
    with h5py.File(out, "r") as f:
        assert f.attrs["pooling"] == "per-base" and "embeddings" not in f
        offsets = f["tokens/offsets"][:]
        assert offsets.tolist() == [0, 140, 283] and f["regions/length_bp"][:].tolist() == [140, 143]
        vectors, starts, ends = f["tokens/vectors"][:], f["tokens/start"][:], f["tokens/end"][:]
        n_tokens = f["regions/n_tokens"][:]
    for i, oriented in enumerate((genome[20:160], revcomp(genome[90:233].upper()))):
        rows = slice(offsets[i], offsets[i + 1])
        np.testing.assert_allclose(vectors[rows], per_base_reference(oriented, 60), rtol=1e-4, atol=1e-5)
        base = np.arange(offsets[i + 1] - offsets[i])
        assert ((starts[rows] <= base) & (base < ends[rows])).all()  # the covering token's span holds the base
        assert len(np.unique(np.stack([starts[rows], ends[rows]]), axis=1)[0]) == n_tokens[i]


def test_per_base_output_is_written_in_chunks(tmp_path, elements, tiny_model_dir, monkeypatch):
    """A region of 4,900 bp in 50 bp windows is appended at most 16 windows (800 rows) at a time."""
    import dnabert2
    from dnabert2.regions.h5writer import H5Writer

    sizes = []
    append = H5Writer.append_tokens

    def recording(self, arrays):
        sizes.append(len(arrays["vectors"]))
        return append(self, arrays)

    monkeypatch.setattr(H5Writer, "append_tokens", recording)
    seq = "".join(elements[k] for k in ("BCL11A", "FOXE1", "IRF6", "MSMB", "RET", "SORT1", "UC88", "ZFAND3", "HBB"))
    summary = dnabert2.embed([("long", seq[:4900])], model=tiny_model_dir, output=tmp_path / "o.h5",
                             pooling="per-base", window=50)
    assert summary["regions"] == 1 and sum(sizes) == 4900
    assert len(sizes) > 5 and max(sizes) <= 16 * 50


@pytest.mark.parametrize("extra, message", [
    (["--stride", "30"], "windows must not overlap"),
    (["--rc-average"], "--rc-average cannot be combined with --per-base"),
    (["--pooling", "max"], "it takes no --pooling"),
])
def test_per_base_refuses_what_has_no_one_vector_per_base(tmp_path, tiny_model_dir, run_cli, extra, message):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGTTTGACCAGTACCA\n")
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "--per-base", "--window", 60, "-o",
                     tmp_path / "o.h5", *extra)
    assert result.exit_code == 2 and message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fa"]
