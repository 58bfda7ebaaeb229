#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image,
# with the autograder zip unpacked in /autograder/source. It installs QEMU,
# bubblewrap, the compiler and the distribution's kernel headers and image
# (scripts/setup.sh), then runs the reference once on that kernel and records
# what it shows, for run_autograder to grade against.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
cd "$root/source"
export KMODGRADE_CACHE=${KMODGRADE_CACHE:-$root/source/cache}
chmod +x run_autograder bin/grader bin/agent scripts/setup.sh
./scripts/setup.sh
rubric=$(cat RUBRIC)
./bin/grader rubric --record --rubric "$rubric" --agent bin/agent -o expected.json
