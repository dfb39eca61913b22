#!/bin/sh
# Package for the local target: publish what later steps read from the run's
# artifacts - the template the change preview diffs, the integration suites and the
# performance budgets. (On AWS the package command runs `sam package` and uploads
# the same files under the run's S3 prefix.)
set -eu
: "${STAGEGATE_ARTIFACTS_DIR:?the rehearsal sets STAGEGATE_ARTIFACTS_DIR}"
mkdir -p "$STAGEGATE_ARTIFACTS_DIR/suites"
cp template.yaml "$STAGEGATE_ARTIFACTS_DIR/packaged.yaml"
cp stagegate/suites/*.json "$STAGEGATE_ARTIFACTS_DIR/suites/"
cp stagegate/performance.json "$STAGEGATE_ARTIFACTS_DIR/performance.json"
echo "packaged into $STAGEGATE_ARTIFACTS_DIR"
