"""--bigwig DIR: one bigWig track per method (METHOD.bw) with every attributed base's score at its place on the
genome, for IGV or the UCSC browser (BED input; the chromosome sizes come from the reference's index).

A region on the - strand was read as the reverse complement, so its scores are turned back to genomic order. The
track holds the per-base scores (ism: -(mean SNV effect), see ism.py; ig, grad-x-input: the token's attribution
shared by its bases; attention: the covering token's weight); bases outside every region have no value.
"""
import numpy as np

from dnabert2.interpret.layout import methods_of, read_region, region_bounds
from dnabert2.interpret.settings import dataset_name


def write_bigwigs(h5_path, chrom_sizes, folder, force=False):
    """METHOD.bw for every method of a finished attribute file of BED regions, into a new folder `folder`;
    chrom_sizes: {chromosome: length} in the reference's order."""
    import h5py
    import pyBigWig

    from dnabert2.common.files import output_dir

    with h5py.File(h5_path, "r") as f, output_dir(folder, force) as tmp:
        order = {chrom: i for i, chrom in enumerate(chrom_sizes)}
        chroms = f["regions/chrom"].asstr()[:]
        starts, strands = f["regions/start"][:], f["regions/strand"].asstr()[:]
        bounds = region_bounds(f)
        rows = sorted(range(len(bounds)), key=lambda i: (order[chroms[i]], starts[i]))
        for method in methods_of(f):
            track = pyBigWig.open(str(tmp / f"{dataset_name(method)}.bw"), "w")
            try:
                track.addHeader(list(chrom_sizes.items()), maxZooms=10)
                for i in rows:
                    values = read_region(f, *bounds[i], method, "scores").astype(np.float64)
                    if strands[i] == "-":
                        values = values[::-1]
                    track.addEntries(str(chroms[i]), int(starts[i]), values=values, span=1, step=1)
            finally:
                track.close()
    return folder
