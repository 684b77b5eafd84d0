#!/bin/sh
# Rebuilds the side-by-side tables of docs/coverage.md ("Side by side with the anchors").
# Needs: clones of elastic/detection-rules and panther-labs/panther-analysis (ELASTIC_REPO,
# PANTHER_REPO: git directories), python3 with botocore (the AWS API names), and a built
# harrier (HARRIER, default target/release/harrier). Writes under ANCHORS_OUT (/tmp/anchors)
# and prints the Markdown to paste between the markers.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/universe.py" >&2
python3 "$here/elastic.py" >&2
python3 "$here/panther.py" >&2
python3 "$here/shared.py" >&2
python3 "$here/summary.py" >&2
python3 "$here/render.py"
