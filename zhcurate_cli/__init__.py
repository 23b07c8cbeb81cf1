"""The command line on top of the layers: run.py parses arguments, commands.py runs them."""
