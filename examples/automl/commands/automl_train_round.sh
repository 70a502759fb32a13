#!/usr/bin/env bash
# One AutoML job: train in the job folder ($MMAR_ROOT, a clone of this template) with the
# job's config (the recommendation applied to config/config_train.json).
set -euo pipefail
cd "$MMAR_ROOT"
exec "${PYTHON:-python3}" train.py -m "$MMAR_ROOT" -c config/config_train.json --write_train_stats
