"""--npz DIR: the arrays TF-MoDISco's command line reads (`modisco motifs -s ohe.npz -a METHOD.npz`), from a
finished attribute file whose regions all have one length.

`ohe.npz` holds the one-hot sequences and `METHOD.npz` (one per method: ism, ig, grad_x_input, attention) the
hypothetical contributions, each as its `arr_0`, float32 [regions, 4, length] (bases A, C, G, T on the second
axis, as TF-MoDISco and tangermeme lay them out).
"""
import numpy as np

from dnabert2.errors import InputError
from dnabert2.interpret.layout import methods_of, read_region, region_bounds
from dnabert2.interpret.settings import dataset_name
from dnabert2.regions.h5writer import TOKENS


def stacked(f, method=None):
    """[regions, 4, length] float32: the one-hot sequences (method None) or a method's hypothetical contributions;
    InputError when the regions are not all of one length."""
    bounds = region_bounds(f)
    lengths = {hi - lo for lo, hi in bounds}
    if len(lengths) > 1:
        raise InputError(f"{f.filename}: its regions have {len(lengths)} lengths ({min(lengths)} to "
                         f"{max(lengths)} bp); TF-MoDISco's arrays need one (attribute them with --resize)")
    rows = [f[f"{TOKENS}/one_hot"][lo:hi] if method is None else read_region(f, lo, hi, method, "hypothetical")
            for lo, hi in bounds]
    return np.stack(rows).astype(np.float32).transpose(0, 2, 1)  # [N, 4, L]


def write_npz(h5_path, folder, force=False):
    """ohe.npz and METHOD.npz (module docstring) into a new folder `folder`, written atomically."""
    import h5py

    from dnabert2.common.files import output_dir

    with h5py.File(h5_path, "r") as f, output_dir(folder, force) as tmp:
        np.savez_compressed(tmp / "ohe.npz", stacked(f))
        for method in methods_of(f):
            np.savez_compressed(tmp / f"{dataset_name(method)}.npz", stacked(f, method))
    return folder
