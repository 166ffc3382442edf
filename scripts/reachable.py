"""Exit 0 when a URL answers within a few seconds, 1 otherwise (the Makefile's test for PyTorch's CPU index).

    python scripts/reachable.py https://download.pytorch.org/whl/cpu/torch/ [--timeout 5]
"""

from __future__ import annotations

import argparse
import sys
import urllib.request


def reachable(url: str, timeout: float = 5.0) -> bool:
    """True when ``url`` answers with a status below 400 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            return response.status < 400
    except (OSError, ValueError):  # URLError, HTTPError, timeouts and malformed addresses
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    return 0 if reachable(args.url, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
