"""``govguard demo``: the command-line side of :mod:`controller.demo.run`."""

from __future__ import annotations

import argparse

from controller.commands.common import CliError


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C, or bounded with ``--smoke``; the exit status."""
    from controller.demo.run import Demo, DemoOptions

    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: not a TCP port")
    if args.timeout <= 0 or args.fleet_interval < 10:
        raise CliError("--timeout must be positive and --fleet-interval at least 10 seconds")
    options = DemoOptions(
        demo_dir=args.dir,
        port=args.port,
        organisation=args.organisation,
        agent_config=args.agent_config,
        smoke=args.smoke,
        timeout_s=args.timeout,
        fleet_interval_s=args.fleet_interval,
    )
    return Demo(options).run()
