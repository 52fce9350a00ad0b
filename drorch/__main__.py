from drorch.cli import entry

entry()
