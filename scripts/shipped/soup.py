"""Which fine-tunes to average: a greedy model soup chosen on held-out rows (Wortsman et al., ICML 2022).

Every run is scored alone by its calibrated dev log-loss: the log-loss of its log-odds after Platt scaling on the
dev rows (scripts/shipped/calibrate.py), the same measure the shipped model is calibrated by. The soup starts as
the best run; each next run, best first, joins it when the calibrated dev log-loss of the average of the soup
and that run is no higher than the soup's own. Only dev rows decide; the chr2 evaluation intervals are never read.

Against the uniform average of every run, the greedy soup leaves out runs that pull the average away from what the
dev rows reward (a run can be good alone and still not help the average); with runs that all help it is the
uniform average.

    python scripts/shipped/soup.py OUT_DIR DEV_TABLE RUN_DIR RUN_DIR [RUN_DIR ...]
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import shutil
from pathlib import Path

from dnabert2.errors import InputError

from scripts.shipped.average import average_weights
from scripts.shipped.calibrate import balanced_weights, fit_platt, log_loss, log_odds, read_labels


def greedy(candidates, loss_of):
    """The greedy soup of `candidates` under `loss_of` (a list of candidates -> the loss of their average).

    Returns (chosen, ranking, tries): ranking is [(candidate, its loss alone)] best first (ties keep the given
    order), tries is [(soup with the candidate, its loss, kept)] for every candidate after the first."""
    if not candidates:
        raise InputError("a soup needs at least one run")
    alone = [(candidate, loss_of([candidate])) for candidate in candidates]
    ranking = sorted(alone, key=lambda item: item[1])
    chosen, best = [ranking[0][0]], ranking[0][1]
    tries = []
    for candidate, _ in ranking[1:]:
        soup = chosen + [candidate]
        loss = loss_of(soup)
        kept = loss <= best
        tries.append((soup, loss, kept))
        if kept:
            chosen, best = soup, loss
    return chosen, ranking, tries


def calibrated_dev_loss(model_dir, sequences, labels, weights=None):
    """The dev log-loss of a two-class model folder after Platt scaling on those same rows (both `weights`ed)."""
    z = log_odds(model_dir, sequences)
    a, c = fit_platt(z, labels, weights=weights)
    return log_loss(z, labels, a, c, weights)


def greedy_soup(folders, table, out, positive="promoter", groups=None):
    """Choose the runs to average among `folders` on `table` (the dev split) and write their average to `out`;
    returns the record the card reads: {"table", "ranking": [{"folder", "log_loss"}], "tries": [{"folders",
    "log_loss", "kept"}], "chosen": [folders], "log_loss"}. `groups` (one source group per row) weighs the rows
    as calibrate.balanced_weights does."""
    sequences, labels = read_labels(table, positive)
    weights = None if groups is None else balanced_weights(groups, labels)
    out = Path(out)
    scratch = out.parent / f"{out.name}.try"
    losses = {}

    def loss_of(soup):
        key = tuple(soup)
        if key not in losses:
            if len(soup) == 1:
                losses[key] = calibrated_dev_loss(soup[0], sequences, labels, weights)
            else:
                average_weights(soup, scratch)
                losses[key] = calibrated_dev_loss(scratch, sequences, labels, weights)
        return losses[key]

    try:
        chosen, ranking, tries = greedy([str(f) for f in folders], loss_of)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    average_weights(chosen, out)
    return {"table": str(table), "weights": "rows alike" if groups is None else "balanced", "ranking": [{"folder": f, "log_loss": loss} for f, loss in ranking],
            "tries": [{"folders": soup, "log_loss": loss, "kept": kept} for soup, loss, kept in tries],
            "chosen": chosen, "log_loss": losses[tuple(chosen)]}


def main(argv=None):
    import argparse

    from scripts.shipped import print_record

    parser = argparse.ArgumentParser(prog="python scripts/shipped/soup.py", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder for the averaged model")
    parser.add_argument("table", help="sequence,label table the runs were not fitted on (e.g. the dev split)")
    parser.add_argument("folders", nargs="+", help="fine-tuned model folders of one starting model")
    parser.add_argument("--positive", default="promoter", help="the label of class 1 (default: promoter)")
    args = parser.parse_args(argv)
    print_record(lambda: greedy_soup(args.folders, args.table, args.out, args.positive))


if __name__ == "__main__":
    main()
