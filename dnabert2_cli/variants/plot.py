"""--plot DIR: one PNG per region of a --saturate run, the in-silico mutagenesis map as people draw it.

A heatmap of position (x) by base (y: A, C, G, T on the region's strand), coloured by the score of each SNV
(a diverging map centred on 0, clipped at the 99th percentile of |score|; the reference base a black dot), with the
reference sequence written along the x axis.
Drawn with matplotlib's object API (Figure + Agg canvas), so no display or pyplot state is needed.
"""
import json

import numpy as np

from dnabert2.common.files import safe_filename
from dnabert2.variants.columns import BASES

LETTERS_UP_TO = 400  # bp: longer regions get position ticks instead of the letters
PREFERRED = ("scores/llr", "scores/delta_prob", "scores/delta_value", "scores/emb_cos")


def check_matplotlib():
    """InputError early when matplotlib (the `plot` extra) is missing."""
    from dnabert2.errors import InputError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'dnabert2[plot]'") from None


def write_plots(h5_path, folder, force=False):
    """One PNG per region of a finished --saturate file, into a new folder `folder` (written atomically)."""
    import h5py

    from dnabert2.common.files import output_dir

    with h5py.File(h5_path, "r") as f, output_dir(folder, force) as tmp:
        name = next(n for n in PREFERRED if n in f)
        label = _label(f, name)
        regions = f["sites/region"][:]
        bounds = np.flatnonzero(np.diff(regions)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(regions)]):
            matrix = f[name][lo:hi]
            if matrix.ndim == 3:
                matrix = matrix[..., -1]  # delta per class: the last class (the positive one of a binary model)
            positions = f["sites/pos"][lo:hi]
            title = f"{f['sites/name'].asstr()[lo]} ({f['sites/chrom'].asstr()[lo]}:{positions.min():,}-" \
                    f"{positions.max():,}, strand {f['sites/strand'].asstr()[lo]})"
            sequence = "".join(f["sites/ref"].asstr()[lo:hi])
            filename = f"{int(regions[lo]):05d}_{safe_filename(f['sites/name'].asstr()[lo])}.png"
            draw(matrix, sequence, title, label, tmp / filename)
    return folder


def _label(f, name):
    short = name.split("/", 1)[1]
    if short.startswith("delta"):
        labels = json.loads(f.attrs.get("label_names") or "[]")
        return f"{short} ({labels[-1]})" if labels else short
    return short


def draw(matrix, sequence, title, label, path):
    """Write the heatmap of `matrix` [length, 4] (NaN on the reference base) to `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    length = len(sequence)
    letters = length <= LETTERS_UP_TO
    width = min(max(6.0, length * (0.11 if letters else 0.02)), 48.0)
    fig = Figure(figsize=(width, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    finite = np.abs(matrix[np.isfinite(matrix)])
    limit = (float(np.percentile(finite, 99)) or 1.0) if finite.size else 1.0  # a few extreme SNVs do not wash it out
    image = ax.imshow(matrix.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    reference = [(i, BASES.index(base)) for i, base in enumerate(sequence) if base in BASES]
    if reference:
        ax.scatter(*zip(*reference), s=2, c="black", marker="o", linewidths=0)  # the reference base of each column
    ax.set_yticks(range(len(BASES)), list(BASES))
    if letters:
        ax.set_xticks(range(length), list(sequence), fontsize=6, fontfamily="monospace")
    else:
        ax.set_xlabel(f"position in region (1-{length:,}, 5' to 3' on its strand)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label=label)
    fig.tight_layout()
    fig.savefig(path)
