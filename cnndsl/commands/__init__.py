"""Subcommands of the cnndsl command line, one module each."""
