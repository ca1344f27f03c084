"""The `jpki` command line: thin, over jpki_sdk's public names and the simulator."""
