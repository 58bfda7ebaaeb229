#!/usr/bin/env bash
# Builds the Gradescope autograder zip for a rubric:
#
#   gradescope/make-autograder.sh [RUBRIC] OUT.zip
#
# RUBRIC defaults to rubrics/milestone1.yaml. The zip holds, at its top,
# Gradescope's setup.sh and run_autograder, the grader and its guest agent
# built as static executables (the image needs no Go), the rubric, the
# reference module it names, and scripts/setup.sh. Upload it as the
# assignment's autograder ("Zip file upload"); setup.sh then records what the
# reference shows on the image's own kernel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

case $# in
1) rubric=rubrics/milestone1.yaml out=$1 ;;
2) rubric=$1 out=$2 ;;
*) echo "usage: $0 [RUBRIC] OUT.zip" >&2; exit 2 ;;
esac
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
rubric=$(realpath --relative-to="$root" "$rubric")
[ -f "$root/$rubric" ] || { echo "make-autograder: no rubric $rubric" >&2; exit 1; }

# The reference folder, as the rubric names it relative to itself.
ref=$(sed -n 's/^reference:[[:space:]]*//p' "$root/$rubric" | sed 's/[[:space:]]*#.*//; s/^"\(.*\)"$/\1/')
[ -n "$ref" ] || { echo "make-autograder: $rubric names no reference" >&2; exit 1; }
ref=$(realpath --relative-to="$root" "$(dirname "$root/$rubric")/$ref")
case $ref in ..*) echo "make-autograder: the reference $ref is outside the repository" >&2; exit 1 ;; esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/scripts" "$stage/$(dirname "$rubric")" "$stage/$(dirname "$ref")"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$stage/bin/grader" ./grader)
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$stage/bin/agent" ./grader/guest/agent)
cp "$root/$rubric" "$stage/$rubric"
cp -r "$root/$ref" "$stage/$ref"
cp "$root/scripts/setup.sh" "$stage/scripts/"
cp "$root/gradescope/setup.sh" "$root/gradescope/run_autograder" "$stage/"
echo "$rubric" >"$stage/RUBRIC"
chmod +x "$stage/setup.sh" "$stage/run_autograder" "$stage/scripts/setup.sh" "$stage/bin/"*

rm -f "$out"
(cd "$stage" && zip -qr "$out" .)
echo "make-autograder: wrote $out for $rubric (reference $ref)"
