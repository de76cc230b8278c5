#!/usr/bin/python3
"""Parses a Prometheus text exposition (stdin) with prometheus_client's own
parser, the reference for the format, and prints one line per family,
"<name> <type>", then one per sample, "sample <name> <labels as JSON> <value>".
Exits 1 (with the parser's error) when the text does not parse.

Run with Debian's /usr/bin/python3 (python3-prometheus-client)."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        print(f"does not parse: {e}", file=sys.stderr)
        return 1
    for family in families:
        print(f"{family.name} {family.type}")
    for family in families:
        for sample in family.samples:
            print(f"sample {sample.name} {json.dumps(sample.labels, sort_keys=True)} {sample.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
