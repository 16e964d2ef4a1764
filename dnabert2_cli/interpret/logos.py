"""Logos (logomaker, on matplotlib's object API: Figure + Agg canvas, no display or pyplot state needed).

--plot DIR of attribute: one PNG per region, one panel per method, the observed contributions drawn as letters
over the sequence (a letter's height is its base's contribution, below the axis when negative). Past
`LETTERS_UP_TO` bp a logo's letters would be thinner than a pixel, so longer regions get the per-base scores as
bars instead. `motifs` draws its patterns and their JASPAR matches with `draw_matrix`.
"""
import numpy as np

from dnabert2.interpret.bases import BASES
from dnabert2.interpret.layout import methods_of, read_region, region_bounds
from dnabert2.common.files import safe_filename  # the same file names as score-variants --plot

LETTERS_UP_TO = 1000  # bp
INCHES_PER_BASE = 0.1
MAX_WIDTH = 48.0  # inches


def figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def draw_matrix(ax, matrix, title=None, ylabel=None):
    """A logo of `matrix` [length, 4] (columns A, C, G, T) on `ax`."""
    import logomaker
    import pandas as pd

    frame = pd.DataFrame(np.asarray(matrix, dtype=np.float64), columns=list(BASES))
    logomaker.Logo(frame, ax=ax, color_scheme="classic", flip_below=False)
    ax.axhline(0, color="grey", linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)


def write_region_logos(h5_path, folder, force=False):
    """One PNG per region of a finished attribute file (module docstring) into a new folder `folder`."""
    import h5py

    from dnabert2.common.files import output_dir

    with h5py.File(h5_path, "r") as f, output_dir(folder, force) as tmp:
        names, index = f["regions/name"].asstr()[:], f["regions/index"][:]
        for i, (lo, hi) in enumerate(region_bounds(f)):
            draw_region(f, i, lo, hi, tmp / f"{int(index[i]):05d}_{safe_filename(names[i])}.png")
    return folder


def draw_region(f, i, lo, hi, path):
    """The PNG of region i (its bases at rows lo:hi) of an open attribute file."""
    methods = methods_of(f)
    name, chrom, strand = (f[f"regions/{key}"].asstr()[i] for key in ("name", "chrom", "strand"))
    start, end = int(f["regions/start"][i]), int(f["regions/end"][i])
    length = hi - lo
    letters = length <= LETTERS_UP_TO
    fig = figure(min(max(6.0, length * (INCHES_PER_BASE if letters else 0.01)), MAX_WIDTH), 1.0 + 1.6 * len(methods))
    for panel, method in enumerate(methods, 1):
        ax = fig.add_subplot(len(methods), 1, panel)
        if letters:
            draw_matrix(ax, read_region(f, lo, hi, method, "contributions"), ylabel=method)
        else:
            scores = read_region(f, lo, hi, method, "scores")
            ax.bar(np.arange(length), scores, width=1.0, color=np.where(scores >= 0, "#b2182b", "#2166ac"))
            ax.set_ylabel(method, fontsize=8)
            ax.set_xlim(-0.5, length - 0.5)
    where = f"{length:,} bp" if chrom == name else f"{chrom}:{start + 1:,}-{end:,}, strand {strand}"
    fig.axes[0].set_title(f"{name} ({where}); target: {f.attrs.get('target') or 'llr'}", fontsize=9)
    fig.axes[-1].set_xlabel(f"position in region (1-{length:,}, 5' to 3' on its strand)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
