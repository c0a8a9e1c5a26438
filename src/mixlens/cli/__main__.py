"""``python -m mixlens.cli``."""

from mixlens.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
