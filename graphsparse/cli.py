"""The ``graphsparse`` command line: thin — it parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from graphsparse import demo

    demo.run(out_dir=args.out, seed=args.seed, epochs=args.epochs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphsparse",
                                     description="Study and exploit sparsity through graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job on an embedded default (no download)")
    demo.add_argument("--out", default="runs/demo", help="folder for output files")
    demo.add_argument("--seed", type=int, default=0, help="seed for data split, init and scores")
    demo.add_argument("--epochs", type=int, default=15, help="training epochs per run (>= 1)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
