"""Command-line programs (``python -m scheduler ...``): the top layer, above the
facades. They parse arguments, build a scheduler and print what it did."""
