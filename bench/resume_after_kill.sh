#!/bin/bash
# A build of the bundled corpus killed (SIGKILL) once four parts of its vectors are saved, then the same build again:
# what the build cache (src/corpus_search/build_cache.py) saves. Figures in BENCHMARKS.md.
set -e
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 CORPUS_SEARCH_CHECKPOINT_PASSAGES=64
rm -rf /tmp/br && mkdir -p /tmp/br
s=$(date +%s.%N); .venv/bin/python -m corpus_search --corpus corpus --index /tmp/br/fresh build >/dev/null 2>&1; echo "fresh build: $(echo "$(date +%s.%N)-$s" | bc) s"
setsid .venv/bin/python -m corpus_search --corpus corpus --index /tmp/br/stopped build >/dev/null 2>&1 &
pid=$!
s=$(date +%s.%N)
while [ "$(ls /tmp/br/stopped/build-cache/vec-*.npz 2>/dev/null | wc -l)" -lt 4 ]; do sleep 0.05; done
kill -9 -- -$pid; wait $pid 2>/dev/null || true
echo "killed after $(echo "$(date +%s.%N)-$s" | bc) s with $(ls /tmp/br/stopped/build-cache/ | tr '\n' ' ')"
du -sh /tmp/br/stopped/build-cache
s=$(date +%s.%N); .venv/bin/python -m corpus_search --corpus corpus --index /tmp/br/stopped build 2>&1 | grep -E "taken up|passages from"; echo "resumed build: $(echo "$(date +%s.%N)-$s" | bc) s"
