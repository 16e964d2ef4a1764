"""TF-MoDISco (modisco-lite) on the maps of an attribute file: seqlets, their clusters, and each pattern's matrices.

TF-MoDISco reads, per region, the one-hot sequence and the hypothetical contributions of the four bases at each
position ([regions, length, 4]); it takes the observed contributions as their product. What a method feeds it
(`METHOD_hypothetical` of the file): ism gives all four bases (its SNV effects centred per position), so patterns
get hypothetical contribution matrices that show the bases the model would prefer; the token methods (ig,
grad-x-input, attention) know the observed base only, so their hypothetical contributions are the observed ones and
patterns are built from the observed bases alone. Regions of several lengths are padded with zeros (no sequence, no
contribution) to the longest; windows of padding have no signal, so no seqlet comes from them.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from dnabert2.errors import InputError
from dnabert2.interpret.layout import methods_of, read_region, region_bounds
from dnabert2.regions.h5writer import TOKENS

TRIM = 0.3  # a pattern's ends are trimmed to the positions holding at least this share of its top |contribution|
TARGET_FDR = 0.2  # TF-MoDISco's target_seqlet_fdr (its library default)


@dataclass
class Pattern:
    """One TF-MoDISco pattern: its name (pos_patterns.pattern_0, ...), seqlets, and matrices [width, 4] trimmed to
    its informative core."""
    name: str
    sign: str  # "positive" or "negative": the sign of its seqlets' contributions
    seqlets: int
    ppm: np.ndarray  # base frequencies of the aligned seqlets
    cwm: np.ndarray  # mean observed contributions
    hcwm: np.ndarray  # mean hypothetical contributions

    @property
    def consensus(self):
        return "".join("ACGT"[i] for i in self.ppm.argmax(1))


def read_inputs(path, method=None):
    """(method, one_hot [N, L, 4] float32, hypothetical [N, L, 4] float32) of a finished attribute file."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("kind") != "attribute" or not f.attrs.get("complete"):
            raise InputError(f"{path}: not a finished file of `dnabert2 attribute` (kind "
                             f"{f.attrs.get('kind')!r}, complete {bool(f.attrs.get('complete'))})")
        methods = methods_of(f)
        if method is None:
            method = "ism" if "ism" in methods else methods[0]
        if method not in methods:
            raise InputError(f"--method {method}: {path} holds {', '.join(methods)}")
        bounds = region_bounds(f)
        length = max(hi - lo for lo, hi in bounds)
        one_hot = np.zeros((len(bounds), length, 4), dtype=np.float32)
        hypothetical = np.zeros_like(one_hot)
        for i, (lo, hi) in enumerate(bounds):
            one_hot[i, :hi - lo] = f[f"{TOKENS}/one_hot"][lo:hi]
            hypothetical[i, :hi - lo] = read_region(f, lo, hi, method, "hypothetical")
    return method, one_hot, hypothetical


def count_seqlets(one_hot, hypothetical, settings):
    """(positive, negative): the seqlets TF-MoDISco finds and splits by sign before clustering them, counted as it
    does (`tfmodisco.TFMoDISco`), so that too few of them is a clear error before the clustering."""
    from modiscolite import core, extract_seqlets

    width, flank = settings.seqlet_width, settings.flank
    contributions = one_hot * hypothetical
    coordinates, threshold = extract_seqlets.extract_seqlets(
        attribution_scores=contributions.sum(axis=2), window_size=width, flank=flank,
        suppress=int(0.5 * width) + flank, target_fdr=TARGET_FDR, min_passing_windows_frac=0.03,
        max_passing_windows_frac=0.2, weak_threshold_for_counting_sign=0.8)
    track = core.TrackSet(one_hot=one_hot, contrib_scores=contributions, hypothetical_contribs=hypothetical)
    positive = negative = 0
    for seqlet in track.create_seqlets(coordinates):
        cut = int(0.5 * (len(seqlet) - width))
        total = np.sum(seqlet.contrib_scores[cut:-cut])
        positive += total > threshold
        negative += total < -threshold
    return int(positive), int(negative)


def find_patterns(one_hot, hypothetical, settings, where):
    """[Pattern] of the positive, then the negative seqlets (modiscolite.tfmodisco.TFMoDISco), and its raw output
    (positive patterns, negative patterns) for modiscolite.io.save_hdf5; InputError with the seqlet counts when too
    few seqlets, or no pattern, come out."""
    from modiscolite.tfmodisco import TFMoDISco

    width, flank = settings.seqlet_width, settings.flank
    if one_hot.shape[1] < width + 2 * flank + 1:
        raise InputError(f"{where}: the regions are {one_hot.shape[1]} bp at most, too short for seqlets of "
                         f"--seqlet-width {width} with --flank {flank} on each side")
    positive, negative = count_seqlets(one_hot, hypothetical, settings)
    counts = f"{positive + negative} seqlets ({positive} positive, {negative} negative) in {len(one_hot)} regions"
    if max(positive, negative) <= settings.min_seqlets:
        raise InputError(f"{where}: TF-MoDISco found {counts}; it clusters the seqlets of a sign only when there are "
                         f"more than --min-seqlets ({settings.min_seqlets}): attribute more regions, or lower "
                         f"--min-seqlets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in the matrices of empty subclusters, dropped anyway
        found = TFMoDISco(one_hot=one_hot, hypothetical_contribs=hypothetical, sliding_window_size=width,
                          flank_size=flank, min_metacluster_size=settings.min_seqlets,
                          max_seqlets_per_metacluster=settings.max_seqlets, target_seqlet_fdr=TARGET_FDR,
                          n_leiden_runs=settings.leiden_runs)
    patterns = [_pattern(f"{group}.pattern_{i}", sign, p)
                for group, sign, found_sign in (("pos_patterns", "positive", found[0]),
                                                ("neg_patterns", "negative", found[1]))
                for i, p in enumerate(found_sign or [])]
    if not patterns:
        raise InputError(f"{where}: TF-MoDISco found {counts} but no pattern (no cluster of at least 20 similar "
                         f"seqlets): attribute more regions")
    return patterns, found, (positive, negative)


def _pattern(name, sign, seqlet_set):
    cwm = np.asarray(seqlet_set.contrib_scores)  # [width, 4]
    strength = np.abs(cwm).sum(1)
    keep = np.flatnonzero(strength >= TRIM * strength.max())
    core = slice(int(keep.min()), int(keep.max()) + 1)
    return Pattern(name, sign, len(seqlet_set.seqlets), np.asarray(seqlet_set.sequence)[core], cwm[core],
                   np.asarray(seqlet_set.hypothetical_contribs)[core])
