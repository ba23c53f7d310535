"""How the console scripts read their command lines, beyond click: a value option given
twice is refused."""

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


class Group(_OptionsOnce, click.Group):
    """click.Group refusing a value option given twice, its own or its commands'."""

    command_class = Command


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
