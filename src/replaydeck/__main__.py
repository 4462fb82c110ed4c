"""`python -m replaydeck` runs the CLI."""

from replaydeck.cli import main

if __name__ == "__main__":
    main()
