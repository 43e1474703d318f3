#!/usr/bin/env python3
"""Checks as4gw's canonical forms of whole XML documents against lxml's.

    c14n_check.py DIR

DIR holds NAME.xml (a document) and NAME.c14n (the exclusive C14N, without comments, that
as4gw's StreamingCanonicalizer wrote for it; absent when as4gw refused the document). Each
document is parsed and canonicalised here as as4verify.py does it (lxml, with its own libxml2,
no DTD, namespace declarations escaped as Canonical XML writes them). Prints one JSON object:
how many documents both canonicalised alike, the names where the two disagree (different bytes,
or only one of them accepted the document), and how many both refused. Exit status 1 when any
disagree.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import as4verify  # noqa: E402


def main():
    folder = sys.argv[1]
    agree, refused, disagree = 0, 0, []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".xml"):
            continue
        base = os.path.join(folder, name[:-4])
        with open(base + ".xml", "rb") as f:
            document = f.read()
        ours = None
        if os.path.exists(base + ".c14n"):
            with open(base + ".c14n", "rb") as f:
                ours = f.read()
        try:
            theirs = as4verify.exc_c14n(as4verify.parse_xml(document))
        except Exception:  # noqa: BLE001 -- any refusal by lxml counts as one
            if ours is None:
                refused += 1
            else:
                disagree.append(name)
            continue
        if ours == theirs:
            agree += 1
        else:
            disagree.append(name)
    print(json.dumps({"agree": agree, "bothRefused": refused, "disagree": disagree}))
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
