"""The bad-input corpus: inputs a careful user gets wrong, and faults, each answered by one line and nothing written.

Every row of `CASES` builds its bad input under a fresh folder and returns the command line. The test runs it and
checks the promise of README's "Conventions": the exit code (2 bad input), exactly one `Error:` line on stderr,
naming the file (or option) at fault and what is wrong, and nothing written or changed: the folder holds exactly
what the row made, byte for byte (no output, no partial, lock or temporary file; inputs untouched).

A new command joins the corpus by adding rows: `@case("id", "message fragment")` over a function
`(s: Setup) -> list of command-line arguments` (`s` has the folder, the tiny model, the chr2 reference and
writers). Tests of what cannot be a row follow the corpus: the disk filling up (exit 1, the finished rows kept for
--resume), a very long row that is truncated and trains, a stale reference index that is rebuilt (never read), the
memory estimates against measured peaks.
"""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import CHR2, REPO, shared_path

VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
GOOD_RECORD = "chr2\t200001\t.\tG\tA\t.\t.\t."  # chr2:200,001-200,010 is GTCTTAATAT
SEQUENCES = {"a": "ACGTACGTACGTAGCTAGCTAGCATCGATCGACTAGCTAGCATCGAC", "b": "ACGTAGCTAGCTAGCTAGCTAGCTGATCGATCGAAAAA"}


@dataclass
class Case:
    id: str
    message: str  # must appear in the error line
    build: object  # Setup -> [args]
    code: int = 2
    warns: bool = False  # the error line may follow WARNING lines (e.g. rows truncated before the memory check)


CASES = []


def case(name, message, code=2, warns=False):
    def register(build):
        CASES.append(Case(name, message, build, code, warns))
        return build
    return register


@dataclass
class Setup:
    """What a row builds with: its folder, the tiny model, the chr2 reference, and small writers."""
    tmp: Path
    tiny: Path
    monkeypatch: object
    cleanups: list = field(default_factory=list)

    @property
    def ref(self):
        return shared_path(*CHR2, "chr2_1-2333275.fa.gz")

    def write(self, name, content):
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def fasta(self, name="in.fa"):
        return self.write(name, "".join(f">{k}\n{v}\n" for k, v in SEQUENCES.items()))

    def model(self, name="model"):
        """A copy of the tiny model folder to damage."""
        return Path(shutil.copytree(self.tiny, self.tmp / name))

    def embed(self, model, *extra):
        return ["embed", "--fasta", self.fasta(), "--model", model, "-o", self.tmp / "out.h5", *extra]

    def bed(self, *lines, name="bad.bed"):
        bed = self.write(name, "".join(line + "\n" for line in lines) if not isinstance(lines[0], bytes)
                         else b"".join(line + b"\n" for line in lines))
        return ["embed", "--bed", bed, "--ref", self.ref, "--model", self.tiny, "-o", self.tmp / "out.h5"]

    def variants(self, *records, header=VCF_HEADER):
        """score-variants of a VCF holding `records` (text lines) against chr2, with a table."""
        vcf = self.write("v.vcf", header + "".join(line + "\n" for line in records))
        return ["score-variants", "--vcf", vcf, "--ref", self.ref, "--model", self.tiny, "-o", self.tmp / "s.h5",
                "--tsv", self.tmp / "s.tsv"]

    def tables(self, train_rows, dev_rows=None, header="sequence,label"):
        seq = "ACGTAGCTAGCTAGGATCGATCGA"
        default = [f"{seq},{i % 2}" for i in range(8)]
        train = self.write("train.csv", "\n".join([header, *train_rows]) + "\n")
        dev = self.write("dev.csv", "\n".join([header, *(dev_rows or default)]) + "\n")
        return ["finetune", "--model", self.tiny, "--train", train, "--dev", dev, "-o", self.tmp / "ft",
                "--max-steps", 1, "--threads", 1, "--device", "cpu"]


# --- 1: BED coordinates that are numbers but not whole numbers (never a header) ---
@case("bed-float-first-line", "bad.bed: line 1: start '20000.0' is not a whole number")
def _(s):
    return s.bed("chr2\t20000.0\t20300.0\tfirst", "chr2\t30000\t30300\tsecond")


@case("bed-scientific-first-line", "bad.bed: line 1: start '2e4' is not a whole number")
def _(s):
    return s.bed("chr2\t2e4\t20300\tfirst")


@case("bed-float-later-line", "bad.bed: line 2: end '30300.5' is not a whole number")
def _(s):
    return s.bed("chr2\t20000\t20300\tfirst", "chr2\t30000\t30300.5\tsecond")


@case("bed-non-utf8-name", "bad.bed: line 2: byte 0xff at column 20 is not UTF-8")
def _(s):
    return s.bed(b"chr2\t20000\t20300\tfirst", b"chr2\t30000\t30300\tse\xffcond")


# --- 3: missing-value markers in a label column ---
for marker, where, line in (("NaN", "train", 3), ("nan", "train", 3), ("NA", "train", 3), ("null", "dev", 2),
                            ("N/A", "dev", 2)):
    def _build(s, marker=marker, where=where):
        good = [f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)]
        bad = ["ACGTAGCTAGCTAGG," + marker]
        rows = (good[:1] + bad + good[1:], None) if where == "train" else (good, bad + good)
        return s.tables(*rows)
    case(f"label-{marker}-in-{where}", f"{where}.csv: line {line}: missing label {marker!r} in column 'label'")(_build)


@case("regression-label-nan", "train.csv: line 3: missing label 'nan' in column 'value'")
def _(s):
    good = [f"ACGTAGCTAGCTAGGATCGATCGA,{i / 7:.3f}" for i in range(8)]
    return s.tables(good[:1] + ["ACGTAGCTAGCTAGG,nan"] + good[1:], good, header="sequence,value")


# --- 4: a batch of very long rows that would not fit in memory: refused before training, naming the options ---
@case("finetune-batch-too-large-for-memory", "lower --max-tokens (now 512) or --batch-size (now 32)", warns=True)
def _(s):
    import dnabert2.common.memory as memory

    s.monkeypatch.setattr(memory, "available_bytes", lambda device=None: 64 << 20)
    seq = "ACGTAGCTAGCTAGGATCGATCGA"
    long_row = "".join("ACGT"[(i * 7 + i // 3) % 4] for i in range(100_000))
    return s.tables([f"{seq},{i % 2}" for i in range(40)] + [f"{long_row},1"])


@case("embed-batch-too-large-for-memory", "lower --batch-tokens (now 16384) or --window")
def _(s):
    import dnabert2.common.memory as memory

    s.monkeypatch.setattr(memory, "available_bytes", lambda device=None: 1 << 20)
    return s.embed(s.tiny)


# --- an attention backend the device cannot run: refused before the output is locked or any input read ---
@case("embed-attention-flash-on-cpu", "--attention flash_attention_2 cannot run on cpu: it needs a CUDA GPU")
def _(s):
    return s.embed(s.tiny, "--device", "cpu", "--attention", "flash_attention_2")


@case("score-variants-attention-flash-on-cpu", "--attention flash_attention_2 cannot run on cpu: it needs a CUDA GPU")
def _(s):
    return [*s.variants(GOOD_RECORD), "--device", "cpu", "--attention", "flash_attention_2"]


# --- 5-8: model folders, checked as a whole whatever the weight format ---
@case("model-without-config", "model: no config.json in this folder")
def _(s):
    model = s.model()
    (model / "config.json").unlink()
    return s.embed(model)


def _edit_config(model, **changes):
    config = json.loads((model / "config.json").read_text())
    config.update(changes)
    (model / "config.json").write_text(json.dumps(config))


@case("model-config-not-json", "config.json: not a readable model config")
def _(s):
    model = s.model()
    (model / "config.json").write_text("{hidden_size: 64")
    return s.embed(model)


CONFIG_EDITS = (
    ("hidden-size", {"hidden_size": 128}, "config.json does not fit model.safetensors: bert.embeddings."
                                          "word_embeddings.weight has shape 4096 x 64, the config (vocab_size 4096, "
                                          "hidden_size 128) implies 4096 x 128"),
    ("vocab", {"vocab_size": 1000}, "the config (vocab_size 1000, hidden_size 64) implies 1000 x 64"),
    ("feed-forward", {"intermediate_size": 96}, "mlp.gated_layers.weight has shape 256 x 64, the config "
                                                "(intermediate_size 96, hidden_size 64) implies 192 x 64"),
    ("layers", {"num_hidden_layers": 3}, "config.json says num_hidden_layers 3, model.safetensors holds 2 layers"),
    ("not-a-number", {"hidden_size": "64"}, "config.json: hidden_size is '64', expected a positive whole number"),
)
for what, changes, message in CONFIG_EDITS:
    def _build(s, changes=changes):
        model = s.model()
        _edit_config(model, **changes)
        return s.embed(model)
    case(f"model-config-{what}-differs", message)(_build)


@case("model-truncated-safetensors", "model.safetensors: not a readable safetensors file, truncated or damaged")
def _(s):
    model = s.model()
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[:len(data) // 2])
    return s.embed(model)


@case("model-empty-safetensors", "model.safetensors: empty weights file (0 bytes)")
def _(s):
    model = s.model()
    (model / "model.safetensors").write_bytes(b"")
    return s.embed(model)


@case("model-index-names-a-missing-shard", "model.safetensors.index.json: names the weights file "
                                           "model-00002-of-00002.safetensors, which is not in the folder")
def _(s):
    model = s.model()
    shards = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"bert.embeddings.word_embeddings.weight": shards[0],
                                            "cls.predictions.decoder.bias": shards[1]}}
    (model / "model.safetensors").rename(model / shards[0])
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    return s.embed(model)


def _pickle_folder(s, write):
    model = s.model()
    (model / "model.safetensors").unlink()
    write(model / "pytorch_model.bin")
    return model


@case("model-truncated-pytorch-bin", "pytorch_model.bin: not a readable PyTorch weights file, truncated or damaged")
def _(s):
    import torch
    from safetensors.torch import load_file

    def write(path):
        torch.save(load_file(s.tiny / "model.safetensors"), path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    return s.embed(_pickle_folder(s, write))


@case("model-malicious-pickle", "pytorch_model.bin: refused: this pickle calls posix.system, so loading it could "
                                "run code")
def _(s):
    import torch

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {s.tmp / 'PWNED'}",)

    return s.embed(_pickle_folder(s, lambda path: torch.save({"w": Payload()}, path)))


@case("model-vocab-1000-tokenizer-4096", "the tokenizer has 4096 tokens but the model's vocabulary has 1000")
def _(s):
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM

    model = s.tmp / "model"
    DNABert2ForMaskedLM(DNABert2Config.from_preset("tiny", vocab_size=1000)).save_pretrained(model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(s.tiny / name, model / name)
    return s.embed(model)


@case("finetune-model-vocab-differs", "the config (vocab_size 1000, hidden_size 64) implies 1000 x 64")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    model = s.model()
    _edit_config(model, vocab_size=1000)
    return [model if a == s.tiny else a for a in args]


# --- 9, 12: an output that is an input, or another output ---
@case("output-is-the-input-fasta", "in.fa: is also the input --fasta")
def _(s):
    fasta = s.fasta()
    return ["embed", "--fasta", fasta, "--model", s.tiny, "-o", fasta, "--force"]


@case("output-is-the-input-bed", "is also the input --bed")
def _(s):
    args = s.bed("chr2\t20000\t20300\tfirst")
    return args[:-1] + [args[2], "--force"]


@case("output-is-the-input-through-a-link", "is also the input --fasta")
def _(s):
    fasta = s.fasta()
    os.link(fasta, s.tmp / "link.h5")
    return ["embed", "--fasta", fasta, "--model", s.tiny, "-o", s.tmp / "link.h5", "--force"]


@case("predict-table-is-the-output", "p.h5: is also the output --tsv")
def _(s):
    out = s.tmp / "p.h5"
    return ["predict", "--fasta", s.fasta(), "--model", s.tiny, "-o", out, "--tsv", out]


@case("merge-output-is-a-shard", "is also the input shard")
def _(s):
    a, b = s.write("a.h5", b"x"), s.write("b.h5", b"y")
    return ["merge", a, b, "-o", a, "--force"]


@case("finetune-output-is-the-model", "model: is also the input --model")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    model = s.model()
    return [model if a in (s.tiny, s.tmp / "ft") else a for a in args] + ["--force"]


# --- 10: a second run of an output that a running process writes ---
def _hold_lock(s, out):
    from dnabert2.common.files import OutputLock

    lock = OutputLock(out).acquire()  # as a running process holds it; flock is per open file, so this one conflicts
    s.cleanups.append(lock.release)


@case("second-run-of-a-running-output", "out.h5: in use by a running process")
def _(s):
    args = s.embed(s.tiny)
    _hold_lock(s, s.tmp / "out.h5")
    return args


@case("resume-of-a-running-output", "out.h5: in use by a running process")
def _(s):
    args = s.embed(s.tiny, "--resume")
    s.write("out.partial.h5", b"being written")
    _hold_lock(s, s.tmp / "out.h5")
    return args


def _interrupted_finetune(s, args):
    """A finetune of `args` stopped at its first checkpoint, as a killed run leaves it (OUT.partial/)."""
    from dnabert2.cli import main
    from dnabert2.finetuning.resume import PartialRun

    save = PartialRun.save_checkpoint

    def save_then_stop(self, training):
        save(self, training)
        raise KeyboardInterrupt

    s.monkeypatch.setattr(PartialRun, "save_checkpoint", save_then_stop)
    with pytest.raises(SystemExit):
        main([str(a) for a in args] + ["-q"])
    s.monkeypatch.undo()
    assert (s.tmp / "ft.partial" / "checkpoint.pt").is_file()


@case("finetune-resume-without-partial-run", "ft: nothing to resume (")
def _(s):
    return s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)]) + ["--resume"]


@case("finetune-resume-with-changed-options", "cannot resume: the partial run was made with other options or input "
                                              "(--lr 0.001 then, 0.002 now)")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    args[args.index("--max-steps") + 1] = 3
    _interrupted_finetune(s, args + ["--eval-every", 1, "--lr", 0.001])
    return args + ["--eval-every", 1, "--lr", 0.002, "--resume"]


@case("finetune-resume-with-a-changed-table", "the train table differs (")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    args[args.index("--max-steps") + 1] = 3
    _interrupted_finetune(s, args + ["--eval-every", 1])
    s.tables([f"ACGTAGCTAGCTAGGATCGAT,{i % 2}" for i in range(8)])
    return args + ["--eval-every", 1, "--resume"]


@case("finetune-partial-run-without-resume", "ft.partial: an interrupted run of this output exists; continue it "
                                             "with --resume")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    args[args.index("--max-steps") + 1] = 3
    _interrupted_finetune(s, args + ["--eval-every", 1])
    return args + ["--eval-every", 1]


@case("finetune-bad-preset-name", "--model tinyy: neither a model folder nor a preset (dnabert2-117m, small, tiny)")
def _(s):
    args = s.tables([f"ACGTAGCTAGCTAGGATCGATCGA,{i % 2}" for i in range(8)])
    return [a if a != s.tiny else "tinyy" for a in args]


@case("output-folder-missing", "nowhere/out.h5: parent folder")
def _(s):
    return ["embed", "--fasta", s.fasta(), "--model", s.tiny, "-o", s.tmp / "nowhere" / "out.h5"]


# --- smaller ones ---
@case("fasta-dev-null", "--fasta /dev/null: the file is empty")
def _(s):
    return ["embed", "--fasta", "/dev/null", "--model", s.tiny, "-o", s.tmp / "out.h5"]


@case("fasta-is-a-pipe", "not a regular file (a pipe or a device)")
def _(s):
    os.mkfifo(s.tmp / "pipe.fa")
    return ["embed", "--fasta", s.tmp / "pipe.fa", "--model", s.tiny, "-o", s.tmp / "out.h5"]


@case("merge-settings-differ-plain-numbers", "b.h5: window = 200 differs from")
def _(s):
    import h5py

    for name, shard, window in (("a.h5", "0/2", 100), ("b.h5", "1/2", 200)):
        with h5py.File(s.tmp / name, "w") as f:
            f.attrs.update({"complete": True, "shard": shard, "kind": "embed", "window": window})
    return ["merge", s.tmp / "a.h5", s.tmp / "b.h5", "-o", s.tmp / "merged.h5"]


# --- score-variants: VCF lines htslib cannot read, said in words; a resume with other options ---
@case("vcf-record-with-five-columns", "v.vcf: line 4: 5 columns, a VCF record needs at least 8")
def _(s):
    return s.variants(GOOD_RECORD, "chr2\t200003\t.\tC\tT")


@case("vcf-pos-not-a-number", "v.vcf: line 4: POS 'abc' is not a whole number")
def _(s):
    return s.variants(GOOD_RECORD, "chr2\tabc\t.\tC\tT\t.\t.\t.")


@case("vcf-without-header", "v.vcf: not a VCF file: the header is missing (a VCF begins with the line "
                            "##fileformat=VCFv4.2")
def _(s):
    return s.variants(GOOD_RECORD, header="")


@case("vcf-without-chrom-line", "v.vcf: the VCF header has no #CHROM line")
def _(s):
    return s.variants(GOOD_RECORD, header="##fileformat=VCFv4.2\n")


@case("resume-with-another-context", "s.partial.h5: cannot resume: --context was 300, this run has 200 (give the "
                                     "same options")
def _(s):
    import h5py
    from click.testing import CliRunner

    from dnabert2.cli import cli

    args = s.variants(GOOD_RECORD, "chr2\t200003\t.\tC\tT\t.\t.\t.", "chr2\t200005\t.\tT\tG\t.\t.\t.")
    done = CliRunner().invoke(cli, [str(a) for a in args[:-2] + ["--context", 300, "-q"]])
    assert done.exit_code == 0, done.output
    partial = s.tmp / "s.partial.h5"
    (s.tmp / "s.h5").rename(partial)  # as a run killed after its first row leaves it
    with h5py.File(partial, "r+") as f:
        f.attrs["complete"] = False
        f["done"][1:] = False
    return args + ["--resume", "--context", 200]


# --- vocab: an option that would be ignored ---
@case("vocab-kmer-with-size", "--size 64: applies to learning BPE, not to --kmer 6")
def _(s):
    return ["vocab", s.fasta(), "--kmer", 6, "--size", 64, "-o", s.tmp / "tok"]


@case("vocab-kmer-stride-without-kmer", "--kmer-stride 3: applies only to a k-mer tokenizer; give --kmer K")
def _(s):
    return ["vocab", s.fasta(), "--kmer-stride", 3, "-o", s.tmp / "tok"]


# --- attribute: models, targets and regions it cannot explain; a missing library of the interpret extra ---
def _classifier(s, num_labels=2):
    """A tiny random fine-tuned classifier folder (written before the snapshot)."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(0)
    folder = s.tmp / "classifier"
    DNABert2ForSequenceClassification(DNABert2Config.from_preset("tiny", num_labels=num_labels)).save_pretrained(folder)
    load_tokenizer(s.tiny).save_pretrained(folder)
    return folder


@case("attribute-ig-with-a-model-without-a-head", "--method ig needs a fine-tuned classifier or regressor")
def _(s):
    return ["attribute", "--fasta", s.fasta(), "--model", s.tiny, "--method", "ig", "-o", s.tmp / "out.h5"]


@case("attribute-target-the-model-lacks", "--target enhancer: the model has no such class; it has 0 (LABEL_0), "
                                          "1 (LABEL_1)")
def _(s):
    return ["attribute", "--fasta", s.fasta(), "--model", _classifier(s), "--target", "enhancer", "-o",
            s.tmp / "out.h5"]


@case("attribute-target-needed-for-three-classes", "--target: this model has 3 classes; say which to explain (by "
                                                    "name or number): 0 (LABEL_0), 1 (LABEL_1), 2 (LABEL_2)")
def _(s):
    return ["attribute", "--fasta", s.fasta(), "--model", _classifier(s, num_labels=3), "-o", s.tmp / "out.h5"]


@case("attribute-target-of-a-masked-lm-model", "--target 1: ")
def _(s):
    return ["attribute", "--fasta", s.fasta(), "--model", s.tiny, "--target", "1", "-o", s.tmp / "out.h5"]


@case("attribute-region-over-the-cap", "in.fa: region 2 (long) is 10,001 bp; attribute reads a region as one model "
                                       "input, at most 10,000 bp")
def _(s):
    fasta = s.write("in.fa", f">short\nACGTACGTAC\n>long\n{'ACGT' * 2500}A\n")
    return ["attribute", "--fasta", fasta, "--model", s.tiny, "--method", "ism", "-o", s.tmp / "out.h5"]


@case("attribute-without-captum", "dnabert2 attribute needs captum (integrated gradients and gradient x input), "
                                  "from the interpret extra: pip install 'dnabert2[interpret]'")
def _(s):
    import dnabert2.interpret.extra as extra

    s.monkeypatch.setattr(extra, "installed", lambda module: module != "captum")
    return ["attribute", "--fasta", s.fasta(), "--model", s.tiny, "--method", "ig", "-o", s.tmp / "out.h5"]


@case("attribute-npz-of-regions-of-several-lengths", "--npz: TF-MoDISco reads [regions, 4, length] arrays")
def _(s):
    return ["attribute", "--fasta", s.fasta(), "--model", s.tiny, "-o", s.tmp / "out.h5", "--npz", s.tmp / "npz"]


@case("motifs-too-few-seqlets", "small.h5: TF-MoDISco found 20 seqlets (20 positive, 0 negative) in 20 regions; it "
                               "clusters the seqlets of a sign only when there are more than --min-seqlets (100)")
def _(s):
    from test_motifs import planted_file

    return ["motifs", planted_file(s.tmp / "small.h5", regions=20), "-o", s.tmp / "motifs"]


@case("motifs-of-a-file-that-is-not-an-attribute-file", "out.h5: not a finished file of `dnabert2 attribute` (kind "
                                                         "'embed'")
def _(s):
    from dnabert2.regions.run import embed

    embed(fasta=str(s.fasta()), model=str(s.tiny), output=str(s.tmp / "out.h5"), device="cpu")
    return ["motifs", s.tmp / "out.h5", "-o", s.tmp / "motifs"]


def snapshot(folder):
    """Every file under `folder`: (relative path, size, content hash) — what 'nothing written or changed' compares."""
    import hashlib

    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif not path.is_dir():
            out[str(path.relative_to(folder))] = "special"
    return out


@pytest.mark.parametrize("row", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_and_writes_nothing(row, tmp_path, tiny_model_dir, monkeypatch, run_cli):
    s = Setup(tmp_path, tiny_model_dir, monkeypatch)
    args = row.build(s)
    before = snapshot(tmp_path)
    try:
        result = run_cli(*args)
        after = snapshot(tmp_path)
    finally:
        for cleanup in s.cleanups:
            cleanup()
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert result.exit_code == row.code, result.stderr
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert row.warns or len(lines) == 1, result.stderr
    assert row.message in errors[0], errors[0]
    assert "Traceback" not in result.stderr and "np.int64" not in result.stderr
    assert after == before, f"written or changed: {set(after.items()) ^ set(before.items())}"


# --- the faults that are not rows ---

def test_one_very_long_row_is_truncated_with_a_warning_that_counts_it(tmp_path, tiny_model_dir, run_cli):
    s = Setup(tmp_path, tiny_model_dir, None)
    seq = "ACGTAGCTAGCTAGGATCGATCGA" * 10
    long_row = "".join("ACGT"[(i * 7 + i // 3) % 4] for i in range(100_000))
    args = s.tables([f"{seq},{i % 2}" for i in range(20)] + [f"{long_row},1"])
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert "train: 1 of 21 examples truncated to 512 tokens" in result.stderr
    record = json.loads((tmp_path / "ft" / "training_record.json").read_text())
    assert record["max_length"] == 512


def test_two_runs_of_one_output_started_together(tmp_path, tiny_model_dir, run_cli):
    """Case 10 with two real processes: the second (and its --resume) is refused at once naming the first, which
    finishes a complete file; no lock or partial file is left."""
    import time

    import h5py
    import numpy as np

    rng = np.random.default_rng(2)
    fasta = tmp_path / "many.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 1500))}\n" for i in range(150)))
    out = tmp_path / "out.h5"
    args = ["embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "--threads", 1, "-q"]
    first = subprocess.Popen([sys.executable, "-m", "dnabert2", *map(str, args)], cwd=REPO, stderr=subprocess.PIPE,
                             text=True)
    lock = tmp_path / "out.h5.lock"
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.01)
    second = run_cli(*args)
    resumed = run_cli(*args, "--resume")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    for result in (second, resumed):
        assert result.exit_code == 2, result.stderr
        assert result.stderr.strip() == (f"Error: {out}: in use by a running process (pid {first.pid}): another run "
                                         "is writing this output; wait for it to finish or choose another output path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.fa", "out.h5"]
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == True and f["done"][:].all() and len(f["embeddings"]) == 150  # noqa: E712


def test_stale_index_of_a_rewrapped_reference_never_gives_wrong_bases(tmp_path, tiny_model_dir, run_cli):
    """Case 2 (helper A's reference code): a FASTA re-wrapped after indexing embeds exactly as a freshly indexed
    copy, on both strands, and the log says the index was stale."""
    import h5py
    import numpy as np
    import pysam

    rng = np.random.default_rng(3)
    chrom = "".join(rng.choice(list("ACGT"), 3000))
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t700\tplus\t0\t+\nchr1\t1000\t1600\tminus\t0\t-\n")
    wrapped = {}
    for name, width in (("stale", 60), ("fresh", 80)):
        folder = tmp_path / name
        folder.mkdir()
        wrapped[name] = folder / "g.fa"
        wrapped[name].write_text(">chr1\n" + "".join(chrom[i:i + width] + "\n" for i in range(0, 3000, width)))
        pysam.faidx(str(wrapped[name]))
    stale_fai = (tmp_path / "stale" / "g.fa.fai").read_text()
    wrapped["stale"].write_text((tmp_path / "fresh" / "g.fa").read_text())  # re-wrapped to 80 after indexing
    (tmp_path / "stale" / "g.fa.fai").write_text(stale_fai)
    later = wrapped["stale"].stat().st_mtime + 60  # the index looks newer: only its content gives it away
    os.utime(tmp_path / "stale" / "g.fa.fai", (later, later))
    vectors = {}
    for name in ("stale", "fresh"):
        out = tmp_path / f"{name}.h5"
        result = run_cli("embed", "--bed", bed, "--ref", wrapped[name], "--model", tiny_model_dir, "-o", out, "-q",
                         "-v")
        assert result.exit_code == 0, result.stderr
        assert ("stale" in result.stderr) == (name == "stale"), result.stderr
        with h5py.File(out, "r") as f:
            vectors[name] = f["embeddings"][:]
    np.testing.assert_array_equal(vectors["stale"], vectors["fresh"])


def test_memory_estimates_bound_the_measured_peaks():
    """The estimates stay at or above the peaks measured on CPU (fp32, SDPA; docs/failures.md), and not far above:
    a check that refused runs which fit would be as wrong as none."""
    from dnabert2.common.memory import ModelSize, inference_bytes, training_bytes

    release, small, tiny = ModelSize(768, 3072, 12, 12), ModelSize(256, 1024, 4, 4), ModelSize(64, 128, 4, 2)
    parameters = {release: 117_070_082, small: 5_319_426, tiny: 349_762}
    mib = 2**20
    # (size, rows, tokens, measured MiB) of one training step over the loaded model and its AdamW state: the
    # gradients (4 bytes a parameter) are in the measured peak, AdamW's moments are not
    for size, rows, length, measured in ((release, 2, 512, 1275), (release, 1, 2048, 2688), (small, 8, 1024, 1099),
                                         (small, 4, 2048, 1163), (small, 16, 512, 1072), (small, 8, 512, 595),
                                         (tiny, 16, 1024, 242), (tiny, 32, 256, 109)):
        estimate = training_bytes(size, rows, length, 0) + 4 * parameters[size]
        assert measured * mib <= estimate <= 2 * measured * mib, (size, rows, length)
    for size, rows, length, measured in ((release, 8, 500, 300), (small, 8, 2000, 713), (small, 40, 400, 326)):
        estimate = inference_bytes(size, rows * length, length)
        assert measured * mib <= estimate <= 2 * measured * mib, (size, rows, length)
    assert training_bytes(release, 32, 512, 0) > 2 * training_bytes(release, 16, 512, 0)


def _mount_tmpfs(folder, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 7 MiB tmpfs (root only): a disk that fills up."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is made with a tiny tmpfs, which needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount_tmpfs(disk, "7m")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def _embed_in_subprocess(args, reserve):
    """`dnabert2 ARGS` in a fresh interpreter (a crash must not take pytest down), the lock's reserve and the room
    kept free beyond a block both set to `reserve` bytes (scaled down to the small disk)."""
    code = ("import sys; import dnabert2.regions.h5writer as w; w.RESERVE_BYTES = w.ROOM_MARGIN = int(sys.argv[1]); "
            "from dnabert2.cli import main; main(sys.argv[2:])")
    return subprocess.run([sys.executable, "-c", code, str(reserve), *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_disk_full_stops_with_one_line_and_a_partial_that_resumes(small_disk, tmp_path, tiny_model_dir):
    import h5py
    import numpy as np

    fasta = tmp_path / "many.fa"
    rng = np.random.default_rng(1)
    n = 160  # about 9 MB of token vectors (gzip-compressed in full-size chunks): more than the 7 MiB disk holds
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 1200))}\n" for i in range(n)))
    out = small_disk / "out.h5"
    args = ["embed", "--fasta", fasta, "--model", tiny_model_dir, "--pooling", "none", "-o", out, "--threads", 1,
            "-q", "--precision", "fp32"]
    # no room for the reserve: refused before anything is written
    result = _embed_in_subprocess(args, 64 << 20)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"Error: {out}: no space left on the device (less than 64 MiB free); nothing was written"], result.stderr
    assert list(small_disk.iterdir()) == []
    # the disk fills up halfway: exit 1, one line, the finished rows kept
    result = _embed_in_subprocess(args, 1 << 20)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"Error: {out}: no space left on device: "), result.stderr
    partial = small_disk / "out.partial.h5"
    assert f"rows finished are kept in {partial}: make room and continue with --resume" in lines[0]
    assert sorted(p.name for p in small_disk.iterdir()) == ["out.partial.h5"]
    with h5py.File(partial, "r") as f:
        kept = int(f["done"][:].sum())
    assert 0 < kept < n and f"the {kept} rows finished" in lines[0]
    # room made: --resume finishes it, equal to a run that never stopped
    assert subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)]).returncode == 0
    resumed = _embed_in_subprocess(args + ["--resume"], 1 << 20)
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole.h5"
    assert _embed_in_subprocess([a if a != out else whole for a in args], 1 << 20).returncode == 0
    with h5py.File(out, "r") as a, h5py.File(whole, "r") as b:
        names = []
        a.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert len(names) > 10
        for name in names:
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
        assert a.attrs["resumed"] == 1
