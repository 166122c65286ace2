#!/bin/bash
# Demo source database: load the Pagila sample (mounted read-only at /pagila) into `pagila`.
set -euo pipefail
bash /pagila/load.sh pagila >/dev/null
echo "source-db: pagila loaded"
