"""Options written once: a field of a command's settings dataclass carries the option's default, its help text and
how the command line shows it, and nothing else holds them.

    @dataclass
    class EmbedSettings:
        window: int = option(2000, "Window length in bp.", group=INPUTS, minimum=1)

`dnabert2.commands.options.settings_options(EmbedSettings)` makes the click options from these fields (`--window`,
`--no-x` for negatable flags, choices, ranges, hidden aliases of old spellings); the command hands the dataclass
to the library function; the Python API builds the same dataclass from keywords with `build`. Adding an option is
one field plus the code that reads it. This module imports nothing from the rest of the package and no click.
"""
import dataclasses
import typing
import warnings

# the groups `--help` shows, in this order
INPUTS, MODEL, RUN, OUTPUTS, TRAINING = "Inputs", "Model", "Run control", "Outputs", "Training"
GROUPS = (INPUTS, MODEL, TRAINING, OUTPUTS, RUN)


@dataclasses.dataclass(frozen=True)
class Option:
    """How a settings field appears on the command line (the field's own default is the option's default)."""
    help: str
    group: str = None
    flag: str = None            # "on": --name sets True; "negatable": --name/--no-name
    short: str = None           # "-o"
    name: str = None            # the option's spelling when it is not --field-name
    metavar: str = None
    choices: tuple = None
    minimum: float = None       # an IntRange/FloatRange lower bound
    above: float = None         # an exclusive lower bound (a FloatRange above it: a positive learning rate)
    required: bool = False      # the command line must give it (the Python API checks it where it is used)
    path: str = None            # "file", "dir" or "any": a click.Path
    multiple: bool = False      # repeatable: the field holds a tuple
    aliases: tuple = ()         # old spellings, hidden, still accepted with a one-line notice
    default_text: str = None    # shown as [default: ...] instead of the value (a default computed at run time)
    dash: bool = False          # a path option that accepts '-' (standard input or output)
    separator: str = None       # the field holds a tuple, given as one text joined by this ("Wqkv,wo")


def option(default=None, help="", **how):
    """A settings field that is also a command-line option; `how` takes the fields of `Option`."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("option(): give a tuple, not a mutable default")
    return dataclasses.field(default=default, metadata={"option": Option(help, **how)})


def internal(default=None):
    """A settings field that only the Python API sets (in-memory regions, a progress switch, a callback)."""
    return dataclasses.field(default=default, metadata={"option": None})


def option_fields(cls):
    """(field, Option, type) of every field of `cls` that is a command-line option, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        how = f.metadata.get("option")
        if how is not None:
            found.append((f, how, _plain_type(hints.get(f.name, str))))
    return found


def option_name(f, how):
    """The option's spelling: `--max-tokens` for field max_tokens, unless the field names another."""
    return how.name or "--" + f.name.replace("_", "-")


def build(cls, options, what):
    """`cls(**options)` for the Python API: old keyword spellings (the options' aliases) are accepted with a
    DeprecationWarning, an unknown keyword is a TypeError naming `what` and the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    old = {alias.lstrip("-").replace("-", "_"): f.name
           for f, how, _ in option_fields(cls) for alias in how.aliases}
    values = {}
    for key, value in options.items():
        if key not in known and key in old:
            warnings.warn(f"{what}({key}=...) is now {old[key]}=...", DeprecationWarning, stacklevel=3)
            key = old[key]
        if key not in known:
            raise TypeError(f"{what}() got an unexpected keyword argument {key!r}; it takes: "
                            f"{', '.join(sorted(known))}")
        values[key] = value
    return cls(**values)


def settings_of(cls, settings, options, what, **positional):
    """The settings of one call of a library entry (`dnabert2.pretrain(...)`, ...): a copy of `settings` (a `cls`),
    or `cls` built from the keyword `options` (`build`). `positional`: the entry's positional parameters that are
    fields too (`output`, ...), counted as options when not None. Settings and options together: a TypeError."""
    options = {**{k: v for k, v in positional.items() if v is not None}, **options}
    if settings is None:
        return build(cls, options, what)
    if options:
        raise TypeError(f"{what}(): give settings or keyword options ({', '.join(sorted(options))}), not both")
    if not isinstance(settings, cls):
        raise TypeError(f"{what}(): settings must be a {cls.__name__}, not {type(settings).__name__}")
    return dataclasses.replace(settings)


def split_joined(settings):
    """Turn the text of every `separator` option ("Wqkv, wo", as the command line gives it) into the tuple its field
    holds (("Wqkv", "wo")); a list or tuple from the Python API becomes a tuple too. Call it in __post_init__."""
    for f, how, _ in option_fields(type(settings)):
        value = getattr(settings, f.name)
        if how.separator is None or value is None:
            continue
        if isinstance(value, str):
            value = [part.strip() for part in value.split(how.separator)]
        setattr(settings, f.name, tuple(part for part in value if part))


def _plain_type(hint):
    """int for `int`, `int | None` and `Optional[int]`."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args and type(None) in typing.get_args(hint) else hint
