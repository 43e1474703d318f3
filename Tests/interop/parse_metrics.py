#!/usr/bin/env python3
"""Parses a Prometheus text exposition (stdin) with prometheus_client's own parser, an
implementation independent of as4gw's writer, and prints every family and sample as JSON.
Exit 1 with the parser's message when the text does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    try:
        families = [
            {
                "name": family.name,
                "type": family.type,
                "help": family.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
            }
            for family in text_string_to_metric_families(text)
        ]
    except Exception as error:  # the parser raises ValueError and others; all mean "invalid"
        print(f"invalid exposition: {error}", file=sys.stderr)
        return 1
    json.dump({"families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
