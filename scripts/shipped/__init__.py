"""Build scripts of the models shipped in `dnabert2.shipped`, kept out of the installed package because they read
the shared data folder. Run from the repository root: `python scripts/shipped/rebuild.py OUT_DIR`."""


def print_record(make):
    """A script's main(): print the record `make()` returns as JSON, or exit with "error: ..." on bad input."""
    import json
    import sys

    from dnabert2.errors import InputError

    try:
        print(json.dumps(make(), indent=1))
    except InputError as error:
        sys.exit(f"error: {error}")
