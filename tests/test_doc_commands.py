"""Every `dnabert2` command line of README.md and docs/**/*.md runs as written, or is listed with the reason it is not.

`doc_commands()` reads the fenced code blocks of the pages (shell blocks: no language, sh, bash, shell, console;
Python blocks are Python, not command lines). In a block where some line starts with the prompt `$ `, only those
lines are commands (the others are what they print); in a block without prompts every line is one, except
comment lines. A line ending in `\\` continues on the next; a trailing `# comment` is dropped; of `A && dnabert2 ...`
only the part from the `dnabert2` command on is kept (installing with pip is not run here). A command line is one
that runs `dnabert2` (alone, after `&&`, `;` or `|`, or as `-m dnabert2` under torchrun).

Each command is in exactly one of three tables: RUN (run here as written), XFAIL (run here, known to fail today;
strict, so the marker must go when it passes) or SKIPPED (with the reason it cannot run cheaply). A command in
none of them, as a new line in the docs is, fails `test_every_doc_command_is_run_or_listed`, and so does a table
entry no page holds any more.

A command runs as written: `bash -c` with `set -o pipefail` (a failing `dnabert2` before `| head` is a failure),
the `dnabert2` of the running interpreter first on PATH, in a fresh folder `work/` beside `shared/data` (a link to
the shared data, so `../shared/data/...` resolves as it does from a clone). The placeholders the docs use are
files of those names in that folder, small real data or fixtures instead of whole genomes and the 117M release
(`PLACEHOLDERS` says what each one is). A command gets the placeholders it names (first path component of a
word, glob patterns matched), except the outputs it names (-o, --output, --tsv, --out-vcf, --plot), so nothing it
writes exists beforehand. It must exit 0.
"""
import fnmatch
import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CHR2, REPO, SHARED_DATA, TEST_DATA, shared_path

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console"}
INVOKES = re.compile(r"(^|&&|;|\|)\s*dnabert2\s|\s-m\s+dnabert2\s")
OUTPUT_OPTIONS = {"-o", "--output", "--tsv", "--out-vcf", "--plot"}
PROMOTERS = 8  # BED lines copied into promoters.bed and peaks.bed
HBB = "HBB"  # the Kircher et al. element of score-variants.md
HBB_RECORDS = 100  # of its 623 records
KIRCHER_RECORDS = 100  # records kept of the whole Kircher VCF (44,647)

RUN = {
    "dnabert2 predict --fasta test_data/promoters_example.fa -o promoters.h5 --tsv promoters.tsv --force",
    "dnabert2 vocab genomes/*.fa --size 4096",
    "dnabert2 predict --bed promoters.bed --ref hg38.fa",
    "dnabert2 predict --bed promoters.bed --ref hg38.fa --tsv - | sort -k8,8gr | head",
    "dnabert2 convert DNABERT-2-117M/ -o dnabert2-117m",
    "dnabert2 embed --bed promoters.bed --ref hg38.fa.gz --model dnabert2-117m -o promoters.h5",
    "dnabert2 predict --bed promoters.bed --ref hg38.fa.gz --model tata_model -o calls.h5 --tsv calls.bed",
    "dnabert2 embed --bed promoters.bed --ref hg38.fa",
    "dnabert2 embed --bed peaks.bed --ref hg38.fa.gz --model my_model --shard 0/2 -o part0.h5",
    "dnabert2 embed --bed peaks.bed --ref hg38.fa.gz --model my_model --shard 1/2 -o part1.h5",
    "dnabert2 merge part0.h5 part1.h5 -o peaks.h5",
    "dnabert2 merge peaks.shard-*-of-4.h5 -o peaks.h5",
    "dnabert2 predict --bed promoters.bed --ref hg38.fa --tsv - | sort -k8,8gr | head -3",
    "dnabert2 predict --bed promoters.bed --ref hg38.fa --model finetuned -o calls.h5 --tsv calls.bed",
    "dnabert2 pretrain genomes/*.fa --model-config tiny --max-steps 20 -o tiny_pretrained",
    "dnabert2 pretrain --init dnabert2_cli/shipped/pretrained --table ../shared/data/gue/tf/0/train.csv "
    "--batch-size 32 --max-tokens 128 --lr 5e-5 --max-steps 200 --eval-every 100 --save-every 100 "
    "--stop-at-step 100 --workers 0 --threads 1 -o fp_tf0",
    "dnabert2 score-variants --vcf hbb.vcf --ref elements_grch37.fa --tsv hbb.tsv --out-vcf hbb.scored.vcf.gz",
    "dnabert2 score-variants --saturate --bed hbb.bed --ref elements_grch37.fa -o hbb_map.h5 --plot maps "
    "--tsv hbb_map.tsv",
    "dnabert2 score-variants --vcf kircher2019_grch37_elements.vcf.gz --ref elements_grch37.fa --method llr,emb "
    "--precision fp32 -o kircher.h5 --tsv kircher.tsv",
    "dnabert2 vocab ../shared/data/genomes/sars_cov_2/NC_045512.2.fasta --kmer 6 -o dnabert_6mer",
    "dnabert2 attribute --fasta peaks.fa --model nfe2_model --method ism --method ig --rc-average --plot logos/",
    "dnabert2 attribute --fasta peaks.fa --model nfe2_model/ --method ig --method ism --plot logos/ --npz npz/",
    "dnabert2 attribute --bed peaks.bed --ref hg38.fa --model nfe2_model/ --rc-average --bigwig tracks/",
    "dnabert2 finetune --data ../shared/data/gue/prom/prom_core_tata --model tiny -o tata_model --max-train-rows 512 "
    "--max-steps 40 --eval-every 10 --lr 1e-3 --threads 1",
    "dnabert2 benchmark gue --data ../shared/data/gue --model tiny -o smoke --tasks 'prom/prom_core_tata,tf/0,emp/h3' "
    "--max-train-rows 256 --max-eval-rows 200 --max-steps 20 --threads 1",
}

XFAIL = {}  # command -> reason: run, and known to fail today (empty: every documented line that runs here passes)

SKIPPED = {
    "dnabert2 motifs peaks.attributions.h5 -o peaks_motifs/": "TF-MoDISco needs an attribution file with more seqlets per sign than --min-seqlets (the NFE2 peaks' attributions: the chain of motifs.md, about 35 min here); tests/test_motifs.py runs motifs on a planted motif",
    "dnabert2 motifs peaks.attributions.h5 --method ig --tax-group insects --min-seqlets 50": "TF-MoDISco needs an attribution file with more seqlets per sign than --min-seqlets (the NFE2 peaks' attributions: the chain of motifs.md, about 35 min here); tests/test_motifs.py runs motifs on a planted motif",
    "dnabert2 finetune --model <shipped pretrained> --train train.csv --dev dev.csv --test test.csv -o nfe2_model "
    "--epochs 20 --lr 5e-4 --batch-size 32 --warmup-steps 50 --eval-every 37 --max-tokens 100 --threads 1": "the NFE2 chain of motifs.md (scripts/interpret/nfe2_chain.sh): about 35 min of fine-tuning and attribution here",
    "dnabert2 attribute --fasta test_peaks.fa --model nfe2_model --method ism,ig,grad-x-input,attention --rc-average "
    "-o test_peaks.attributions.h5 --plot logos": "the NFE2 chain of motifs.md (scripts/interpret/nfe2_chain.sh): about 35 min of fine-tuning and attribution here",
    "dnabert2 motifs test_peaks.attributions.h5 -o motifs_ism --min-seqlets 50": "the NFE2 chain of motifs.md (scripts/interpret/nfe2_chain.sh): about 35 min of fine-tuning and attribution here",
    "dnabert2 motifs test_peaks.attributions.h5 -o motifs_ig --method ig --min-seqlets 50": "the NFE2 chain of motifs.md (scripts/interpret/nfe2_chain.sh): about 35 min of fine-tuning and attribution here",
    "dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096":
        "the 117M architecture for 10,000 steps: days on a CPU",
    "dnabert2 finetune --data GUE/prom/prom_core_tata --model dnabert2-117m -o tata_model --max-tokens 20 --epochs 10":
        "10 epochs of prom_core_tata (1,540 steps): 6.5 min here even with a tiny stand-in model, hours with the 117M",
    "dnabert2 benchmark tokenizers ../shared/data/genomes/ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.fna.gz "
    "../shared/data/genomes/human_chrM/MT-human.NC_012920.1.fa "
    "../shared/data/genomes/human_hg38_chr2_1-2333275/chr2_1-2333275.fa.gz "
    "../shared/data/genomes/model_organisms_1pct/A.thaliana.fa.gz "
    "../shared/data/genomes/model_organisms_1pct/C.elegans.fa.gz "
    "../shared/data/genomes/model_organisms_1pct/D.melanogaster.fa.gz "
    "../shared/data/genomes/sars_cov_2/NC_045512.2.fasta "
    "../shared/data/genomes/yeast_s288c_r64/Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz "
    "--tasks ../shared/data/gue/tf/0 --tasks ../shared/data/gue/mouse/0 --tasks ../shared/data/gue/mouse/3 "
    "--pretrain-steps 800 --threads 1 -o tokenizer_study":
        "the paper's tokenizer study: eight genomes, several vocabularies, 800 pretraining steps and GUE "
        "fine-tuning for each: hours",
    "torchrun --nproc-per-node 4 -m dnabert2 embed --bed peaks.bed --ref hg38.fa.gz --model my_model -o peaks.h5":
        "torchrun with four processes, one per GPU (tests/test_embed.py checks the ranks' shard files)",
    "dnabert2 pretrain --prepare --genome genomes/*.fa.gz --tokenizer my_tokenizer --windows 10000000 -o corpus":
        "tokenises 10,000,000 windows: hours and gigabytes",
    "dnabert2 pretrain --corpus corpus --model-config dnabert2-117m -o dnabert2_mine":
        "the 117M architecture for 10,000 steps on the corpus of the line above: days on a CPU",
    "dnabert2 pretrain --init DNABERT-2-117M --table GUE/EMP/H3/train.csv --table GUE/tf/0/train.csv ... "
    "(every GUE train.csv) --batch-size 32 --max-tokens 128 --lr 5e-5 --max-steps 100000 -o dnabert2_further":
        "a recipe, not a command: '... (every GUE train.csv)' stands for 26 more --table options; 100,000 steps "
        "of the 117M model",
    "dnabert2 benchmark gue --data GUE --model dnabert2_further -o gue_further --seeds 3":
        "the whole GUE benchmark, three seeds, with the 117M model: days",
    "dnabert2 pretrain --genome ../shared/data/genomes/ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.fna.gz "
    "--tokenizer ../shared/data/reference_checkpoint --model-config tiny --max-steps 300 --batch-size 16 --lr 2e-3 "
    "--eval-every 100 --save-every 100 --threads 1 -o my_model":
        "300 steps of the tiny model: about 50 s here, over this file's budget (the tiny 20-step run of "
        "pretrain.md:29 and the --init --table run of pretrain.md:162 run)",
    "dnabert2 pretrain ... (the same) --resume":
        "'...' stands for the line above, whose run it resumes",
    "torchrun --standalone --nproc_per_node 4 -m dnabert2 pretrain --genome genomes/*.fa.gz --tokenizer my_tokenizer "
    "--model-config dnabert2-117m --batch-size 64 --grad-accum 4 --max-steps 500000 --lr 5e-4 --warmup-steps 30000 "
    "--precision bf16 -o dnabert2_mine --resume":
        "torchrun on four GPUs, 500,000 steps of the 117M model in bf16",
}

PLACEHOLDERS = {  # name in the docs -> what the test puts there (made by `placeholders`)
    "genomes": "genomes/a.fa, genomes/b.fa: the records of test_data/genome_small.fa.gz (316 kb), split in two",
    "promoters.bed": f"the first {PROMOTERS} promoters of the shared chr2 promoter BED",
    "peaks.bed": f"the first {PROMOTERS} promoters of the same BED that overlap none before them",
    "hg38.fa": "hg38 chr2 from its start to 1 kb past those regions: plain FASTA, unindexed",
    "hg38.fa.gz": "the same, gzip (not bgzip)",
    "test_data": "the repository's test_data/promoters_example.fa",
    "dnabert2_cli": "a link to the repository's dnabert2_cli/ (the shipped models under dnabert2_cli/shipped/)",
    "GUE": "a link to the shared GUE tables",
    "DNABERT-2-117M": "a tiny random model in the release's layout (pytorch_model.bin, remote-code config.json, the "
                      "released tokenizer; tests/test_model_checkpoint.py's make_release_folder)",
    "dnabert2-117m": "that folder converted by `dnabert2.convert_model`, as README's quick start 3 makes it",
    "my_model": "test_data/golden_inputs/model/: a tiny masked-LM folder",
    "finetuned": "test_data/golden_inputs/classifier/: a tiny fine-tuned classifier folder",
    "tata_model": "test_data/golden_inputs/classifier/ as well",
    "nfe2_model": "a tiny random binary classifier on the golden inputs' tokenizer (seed 0)",
    "peaks.fa": "the repository's test_data/promoters_example.fa",
    "part0.h5": "`embed --bed peaks.bed --ref hg38.fa.gz --model my_model --shard 0/2` (the line of merge.md)",
    "part1.h5": "the same with --shard 1/2",
    "peaks.shard-*-of-4.h5": "what the torchrun line of merge.md writes: the same embed with --shard K/4, K = 0..3",
    "hbb.vcf": f"the first {HBB_RECORDS} {HBB} records of the shared Kircher et al. VCF, with its header",
    "hbb.bed": f"the one line score-variants.md shows: {HBB} 0 187 {HBB} 0 -",
    "elements_grch37.fa": "the shared Kircher et al. element reference",
    "kircher2019_grch37_elements.vcf.gz": f"the first {KIRCHER_RECORDS} records of the shared Kircher et al. VCF, "
                                          "bgzipped",
}


def logical_lines(lines):
    """Lines with their `\\` continuations joined, as (first line number, text)."""
    out, start, parts = [], None, []
    for number, line in lines:
        start = number if start is None else start
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1].strip())
            continue
        parts.append(line.strip())
        out.append((start, " ".join(p for p in parts if p)))
        start, parts = None, []
    if parts:
        out.append((start, " ".join(parts)))
    return out


def without_comment(line):
    """`line` without a trailing `# comment` (a # after a space, outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def from_dnabert2(line):
    """The part of `a && b && ...` from the first segment that runs dnabert2 on."""
    segments = line.split(" && ")
    first = next(i for i, s in enumerate(segments) if INVOKES.search(s))
    return " && ".join(segments[first:])


def doc_commands():
    """{command: ['page:line', ...]} of every dnabert2 command line in the pages' shell code blocks."""
    found = {}
    for page in PAGES:
        blocks, block, language = [], None, None
        for number, line in enumerate(page.read_text().splitlines(), 1):
            fence = re.match(r"\s*```(\S*)", line)
            if fence and block is None:
                block, language = [], fence.group(1)
            elif fence:
                if language in SHELL_BLOCKS:
                    blocks.append(block)
                block = None
            elif block is not None:
                block.append((number, line))
        for block in blocks:
            prompted = any(line.startswith("$ ") for _, line in block)
            for number, line in logical_lines(block):
                if prompted and not line.startswith("$ "):
                    continue
                line = without_comment(line[2:] if prompted else line)
                if line and INVOKES.search(line):
                    command = re.sub(r"\s+", " ", from_dnabert2(line)).strip()
                    found.setdefault(command, []).append(f"{page.relative_to(REPO)}:{number}")
    return found


COMMANDS = doc_commands()


def test_extraction_reads_blocks_as_a_shell_user_would():
    lines = [(1, "$ dnabert2 finetune --data d --model m \\"), (2, "    --lr 1e-3 -o out   # a comment"),
             (3, "classification (2 label(s))")]
    assert logical_lines(lines) == [(1, "$ dnabert2 finetune --data d --model m --lr 1e-3 -o out   # a comment"),
                                    (3, "classification (2 label(s))")]
    assert without_comment("dnabert2 vocab g/*.fa --size 4096   # -> bpe_4096/") == "dnabert2 vocab g/*.fa --size 4096"
    assert without_comment("grep -v '^#x' f # c") == "grep -v '^#x' f"
    assert from_dnabert2("python -m pip install . && dnabert2 predict --fasta x.fa") == "dnabert2 predict --fasta x.fa"
    assert INVOKES.search("torchrun --nproc-per-node 4 -m dnabert2 embed --bed b.bed")
    assert not INVOKES.search("Next: dnabert2 pretrain genomes/ecoli.fa --tokenizer bpe_4096")
    assert not INVOKES.search("python scripts/kircher_eval.py kircher.h5")
    # an output line of a prompted block is not a command, though it names one
    assert "dnabert2 pretrain genomes/ecoli.fa --tokenizer bpe_4096" not in COMMANDS
    assert "dnabert2 vocab genomes/*.fa --size 4096" in COMMANDS


def test_every_doc_command_is_run_or_listed():
    tables = {"RUN": set(RUN), "XFAIL": set(XFAIL), "SKIPPED": set(SKIPPED)}
    names = sorted(tables)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not tables[a] & tables[b], f"in both {a} and {b}: {sorted(tables[a] & tables[b])}"
    listed = set().union(*tables.values())
    new = {c: COMMANDS[c] for c in COMMANDS if c not in listed}
    assert not new, ("doc command lines neither run nor listed (add each to RUN once it runs here in seconds, or "
                     f"to SKIPPED with the reason): {new}")
    stale = sorted(listed - set(COMMANDS))
    assert not stale, f"listed but in no page any more (remove them): {stale}"


def _apart(lines, count):
    """The first `count` BED lines of `lines` that overlap none kept before them."""
    kept = []
    for line in lines:
        chrom, start, end = line.split("\t")[:3]
        if all(k[0] != chrom or int(start) >= k[2] or int(end) <= k[1] for k in kept):
            kept.append((chrom, int(start), int(end), line))
        if len(kept) == count:
            break
    return [k[3] for k in kept]


def _binary_classifier(folder):
    """A tiny random two-class classifier with the golden inputs' tokenizer (attribute explains its last class)."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    source = TEST_DATA / "golden_inputs" / "classifier"
    config = DNABert2Config.from_pretrained(source)
    config.num_labels, config.id2label, config.label2id = 2, {0: "background", 1: "peak"}, {"background": 0, "peak": 1}
    config.task_specific_params = None
    torch.manual_seed(0)
    DNABert2ForSequenceClassification(config).save_pretrained(folder)
    load_tokenizer(source).save_pretrained(folder)


def _write_fasta(path, name, seq):
    path.write_text(f">{name}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))


def _run_cli(folder, *args):
    from click.testing import CliRunner

    from dnabert2.cli import cli

    cwd = os.getcwd()
    try:
        os.chdir(folder)
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory):
    """A folder holding every entry of PLACEHOLDERS under its doc name."""
    import pysam

    import dnabert2
    from test_model_checkpoint import make_release_folder

    src = tmp_path_factory.mktemp("placeholders")
    records = gzip.open(TEST_DATA / "genome_small.fa.gz", "rt").read().split(">")[1:]
    (src / "genomes").mkdir()
    (src / "genomes" / "a.fa").write_text(">" + records[0])
    (src / "genomes" / "b.fa").write_text("".join(">" + r for r in records[1:]))
    every = shared_path(*CHR2, "promoters_chr2_1-2333275.bed").read_text().splitlines()
    lines = every[:PROMOTERS]
    (src / "promoters.bed").write_text("\n".join(lines) + "\n")
    peaks = _apart(every, PROMOTERS)  # a bigWig track (attribute --bigwig) takes regions that do not overlap
    (src / "peaks.bed").write_text("\n".join(peaks) + "\n")
    end = max(int(line.split("\t")[2]) for line in lines + peaks) + 1000
    _write_fasta(src / "hg38.fa", "chr2", pysam.FastaFile(str(shared_path(*CHR2, "chr2_1-2333275.fa.gz"))).fetch(
        "chr2", 0, end))
    (src / "hg38.fa.gz").write_bytes(gzip.compress((src / "hg38.fa").read_bytes(), mtime=0))
    (src / "test_data").mkdir()
    shutil.copyfile(TEST_DATA / "promoters_example.fa", src / "test_data" / "promoters_example.fa")
    (src / "dnabert2_cli").symlink_to(REPO / "dnabert2_cli")
    (src / "GUE").symlink_to(shared_path("gue"))
    make_release_folder(src / "DNABERT-2-117M", shared_path)
    dnabert2.convert_model(src / "DNABERT-2-117M", src / "dnabert2-117m")
    shutil.copytree(TEST_DATA / "golden_inputs" / "model", src / "my_model")
    for name in ("finetuned", "tata_model"):
        shutil.copytree(TEST_DATA / "golden_inputs" / "classifier", src / name)
    _binary_classifier(src / "nfe2_model")
    shutil.copyfile(TEST_DATA / "promoters_example.fa", src / "peaks.fa")
    shards = tmp_path_factory.mktemp("shards")  # made beside copies, so the placeholder folder holds no index
    for name in ("peaks.bed", "hg38.fa.gz", "my_model"):
        (shutil.copytree if (src / name).is_dir() else shutil.copyfile)(src / name, shards / name)
    embed = ["embed", "--bed", "peaks.bed", "--ref", "hg38.fa.gz", "--model", "my_model", "--quiet"]
    for k in range(2):
        _run_cli(shards, *embed, "--shard", f"{k}/2", "-o", f"part{k}.h5")
        shutil.copyfile(shards / f"part{k}.h5", src / f"part{k}.h5")
    for k in range(4):
        _run_cli(shards, *embed, "--shard", f"{k}/4", "-o", f"peaks.shard-{k}-of-4.h5")
        shutil.copyfile(shards / f"peaks.shard-{k}-of-4.h5", src / f"peaks.shard-{k}-of-4.h5")
    kircher = shared_path("variants", "kircher2019_satmut_mpra")
    shutil.copyfile(kircher / "elements_grch37.fa", src / "elements_grch37.fa")
    vcf = gzip.open(kircher / "kircher2019_grch37_elements.vcf.gz", "rt").read().splitlines()
    header = [line for line in vcf if line.startswith("#")]
    body = [line for line in vcf if not line.startswith("#")]
    (src / "hbb.vcf").write_text("\n".join(header + [r for r in body if r.split("\t")[0] == HBB][:HBB_RECORDS]) + "\n")
    (src / "hbb.bed").write_text(f"{HBB}\t0\t187\t{HBB}\t0\t-\n")
    (src / "kircher.vcf").write_text("\n".join(header + body[:KIRCHER_RECORDS]) + "\n")
    pysam.tabix_compress(str(src / "kircher.vcf"), str(src / "kircher2019_grch37_elements.vcf.gz"))
    (src / "kircher.vcf").unlink()
    made = {p.name for p in src.iterdir()}
    expected = {name for pattern in PLACEHOLDERS for name in made if fnmatch.fnmatch(name, pattern)}
    assert made == expected and all(fnmatch.filter(made, p) for p in PLACEHOLDERS), (sorted(made), PLACEHOLDERS)
    return src


def needed(command, names):
    """The placeholders `command` names (outside its outputs), as entries of `names`."""
    words = shlex.split(command)
    out = set()
    for i, word in enumerate(words):
        if i and words[i - 1] in OUTPUT_OPTIONS:
            continue
        first = word.split("=", 1)[-1].split("/")[0]
        out.update(n for n in names if fnmatch.fnmatch(n, first))
    return out


def test_placeholders_go_where_the_command_reads_them():
    names = {"genomes", "hg38.fa", "tata_model", "peaks.shard-0-of-4.h5", "peaks.shard-1-of-4.h5", "DNABERT-2-117M"}
    assert needed("dnabert2 vocab genomes/*.fa --size 4096", names) == {"genomes"}
    assert needed("dnabert2 finetune --data GUE/x --model m -o tata_model", names) == set()
    assert needed("dnabert2 predict --ref hg38.fa --model tata_model", names) == {"hg38.fa", "tata_model"}
    assert needed("dnabert2 merge peaks.shard-*-of-4.h5 -o p.h5", names) == {"peaks.shard-0-of-4.h5",
                                                                           "peaks.shard-1-of-4.h5"}
    assert needed("dnabert2 convert DNABERT-2-117M/ -o d", names) == {"DNABERT-2-117M"}


def _param(command):
    marks = [pytest.mark.xfail(strict=True, reason=XFAIL[command])] if command in XFAIL else []
    return pytest.param(command, marks=marks, id=COMMANDS[command][0])


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_doc_command_runs_as_written(command, placeholders, tmp_path):
    if command in SKIPPED:
        pytest.skip(SKIPPED[command])
    if command not in RUN and command not in XFAIL:
        pytest.fail(f"{COMMANDS[command]}: new doc command, in no table (test_every_doc_command_is_run_or_listed)")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(SHARED_DATA.resolve())
    work = tmp_path / "work"
    work.mkdir()
    for name in needed(command, {p.name for p in placeholders.iterdir()}):
        source = placeholders / name
        if source.is_symlink():
            (work / name).symlink_to(os.readlink(source))
        elif source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copyfile(source, work / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(["bash", "-c", f"set -o pipefail\n{command}"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{COMMANDS[command]}: {command}\nexit {done.returncode}\n{done.stderr[-3000:]}"
