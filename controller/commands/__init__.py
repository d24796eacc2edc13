"""The ``govguard`` commands, one module per group; :mod:`controller.cli` parses and dispatches.

Each handler takes the parsed arguments and returns the exit status. Failures the operator can
fix are raised as :class:`controller.commands.common.CliError` (one line, exit 1).
"""
