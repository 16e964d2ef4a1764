"""Build scripts of the models shipped in `dnabert2.shipped`, kept out of the installed package because they read
the shared data folder. Run from the repository root: `python scripts/shipped/rebuild.py OUT_DIR`."""
