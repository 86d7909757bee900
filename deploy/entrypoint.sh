#!/usr/bin/env bash
# Container entry point of the agentic-sciml image. One image, several roles:
#
#   entrypoint.sh migrate          wait for the database, apply the migrations, exit
#   entrypoint.sh ray-head         the Ray head (GCS, no evaluation slots of its own), in the foreground
#   entrypoint.sh ray-worker       a Ray worker node that runs sandboxed evaluations, in the foreground
#   entrypoint.sh ARGS...          `agentic-sciml ARGS...` (serve, worker, keys, run, ...)
#
# With EXECUTOR=ray and RAY_HEAD_ADDRESS set, an agentic-sciml process first joins the Ray cluster as a
# node without CPUs or GPUs: it becomes a Ray driver that submits evaluations but never runs one itself.
# DRY_RUN=1 prints the command that would be executed instead of running it (the deployment tests use it).
set -euo pipefail

run() {
  if [ "${DRY_RUN:-0}" = "1" ]; then
    printf '%s\n' "$*"
  else
    "$@"
  fi
}

start() {
  if [ "${DRY_RUN:-0}" = "1" ]; then
    printf '%s\n' "$*"
    exit 0
  fi
  exec "$@"
}

ray_port="${RAY_PORT:-6379}"
role="${1:-problems}"

case "$role" in
  migrate)
    shift
    start agentic-sciml db upgrade --wait-seconds "${DB_WAIT_SECONDS:-120}" "$@"
    ;;
  ray-head)
    shift
    start ray start --head --port="$ray_port" --num-cpus=0 --num-gpus=0 \
      --include-dashboard=false --disable-usage-stats --block "$@"
    ;;
  ray-worker)
    shift
    : "${RAY_HEAD_ADDRESS:?ray-worker needs RAY_HEAD_ADDRESS (host:port of the Ray head)}"
    # Evaluation slots: one per CPU by default (AGENTIC_SCIML_RAY_CPUS_PER_EVALUATION on the drivers sets
    # how many each evaluation takes); GPUs are detected by Ray unless RAY_WORKER_GPUS says otherwise.
    gpus=()
    if [ -n "${RAY_WORKER_GPUS:-}" ]; then
      gpus=(--num-gpus="$RAY_WORKER_GPUS")
    fi
    cpus=()
    if [ -n "${RAY_WORKER_CPUS:-}" ]; then
      cpus=(--num-cpus="$RAY_WORKER_CPUS")
    fi
    start ray start --address="$RAY_HEAD_ADDRESS" ${cpus[@]+"${cpus[@]}"} ${gpus[@]+"${gpus[@]}"} \
      --disable-usage-stats --block "$@"
    ;;
  *)
    if [ "${EXECUTOR:-local}" = "ray" ] && [ -n "${RAY_HEAD_ADDRESS:-}" ]; then
      run ray start --address="$RAY_HEAD_ADDRESS" --num-cpus=0 --num-gpus=0 --disable-usage-stats
      export RAY_ADDRESS="$RAY_HEAD_ADDRESS"
    fi
    start agentic-sciml "$@"
    ;;
esac
