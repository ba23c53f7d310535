"""How the console scripts read their command lines, beyond click: a value option given
twice is refused, and an option of `melanoma` itself given after its command is named as such."""

from __future__ import annotations

import click


class _OptionsOnce:
    """Refuses a value option given twice: click keeps the last value and drops the first
    silently, so `melanoma-export --target coreml --target torchscript` exported torchscript
    alone and `--data A --data B` read B. Switches (--resume, --progress/--no-progress) may
    repeat: the last one wins, as in most tools, and none drops a value."""

    def make_parser(self, ctx: click.Context):
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_once(args):
            opts, rest, order = parse(args=args)
            refuse_repeated_options(ctx, order)
            return opts, rest, order

        parser.parse_args = parse_once
        return parser


class Command(_OptionsOnce, click.Command):
    """click.Command refusing a value option given twice."""


class OtherScript(click.ClickException):
    """`melanoma export`: bad flags' exit code, pointing at the script's --help, not ours."""

    exit_code = 2

    def __init__(self, name: str, script: str):
        super().__init__(
            f"No such command '{name}': it is a script of its own, {script} (see '{script} --help')"
        )


# Commands one looks for under `melanoma` that are scripts of their own.
OTHER_SCRIPTS = {"export": "melanoma-export", "bench": "melanoma-bench"}


class Group(_OptionsOnce, click.Group):
    """click.Group refusing a value option given twice, its own or its commands'."""

    command_class = Command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """`melanoma export` gets the script's name, not only "No such command"."""
        script = OTHER_SCRIPTS.get(args[0]) if args and args[0] not in self.commands else None
        if script is not None:
            raise OtherScript(args[0], script)
        return super().resolve_command(ctx, args)


def refuse_repeated_options(ctx: click.Context, order: list) -> None:
    """`order` has one entry per occurrence on the command line (click's parse order).
    --help and --version still answer: they are eager and end the run before any value."""
    if any(param.is_eager for param in order):
        return
    takes_one_value = [
        p for p in order if isinstance(p, click.Option) and not (p.is_flag or p.multiple or p.count)
    ]
    for param in dict.fromkeys(takes_one_value):
        times = takes_one_value.count(param)
        if times > 1:
            raise click.UsageError(
                f"{param.opts[-1]} given {times} times: it takes one value, and all but the "
                "last would be ignored; give it once",
                ctx,
            )


def misplaced_option_hint(err: click.ClickException) -> str:
    """For an option of `melanoma` itself (--threads, -v, --version) given after its command,
    where click says only "No such option": the README and the resume warning name
    --threads, and `melanoma train --threads 1` is what one types first."""
    ctx = getattr(err, "ctx", None)
    if not isinstance(err, click.NoSuchOption) or ctx is None or ctx.parent is None:
        return ""
    group = ctx.parent
    name = err.option_name
    param = next((p for p in group.command.params if name in (*p.opts, *p.secondary_opts)), None)
    if param is None:
        return ""
    if param.is_eager:  # --version: no command needed
        usage = f"{group.command_path} {name}"
    else:
        value = "" if getattr(param, "is_flag", False) else " VALUE"
        usage = f"{group.command_path} {name}{value} {ctx.info_name} ..."
    return f" {name} is an option of '{group.command_path}', given before the command: {usage}"


def option_names(ctx: click.Context | None) -> set[str]:
    """Every option name of this command and of the groups above it (-h and --help too)."""
    names: set[str] = set()
    while ctx is not None:
        for param in ctx.command.get_params(ctx):
            names.update((*param.opts, *param.secondary_opts))
        ctx = ctx.parent
    return names
