"""A Ray driver that test_hosts.py runs inside one of its namespaces, as a user runs the CLI on a node.

    python hosts_driver.py ADDRESS nodes            -> one JSON line: alive node addresses, and where
                                                      a task pinned to each node actually ran
    python hosts_driver.py ADDRESS stream N LOG     -> "done I VALUE ADDRESS" per finished task, then
                                                      "all N"; each attempt appends "start I ADDRESS"
                                                      to LOG, so the test can see retries

It joins through corpus_search.cluster.connect, the way the build and the searcher do.
"""

from __future__ import annotations

import json
import sys


def _value(i: int) -> int:
    # Deterministic work, so "results unchanged" is checkable whichever node did it.
    return sum((i * k) % 97 for k in range(20000))


def main(argv: list[str]) -> int:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from corpus_search import cluster

    from corpus_search.errors import CorpusSearchError

    address, what, *rest = argv
    try:
        cluster.connect(address)
    except CorpusSearchError as exc:  # as the CLI does: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if what == "nodes":
            alive = sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"])

            @ray.remote(num_cpus=1)
            def where() -> str:
                return ray.util.get_node_ip_address()

            pinned = {n["NodeManagerAddress"]: where.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
                for n in ray.nodes() if n["Alive"]}
            ran = {asked: ray.get(ref, timeout=60) for asked, ref in pinned.items()}
            print(json.dumps({"alive": alive, "ran": ran}), flush=True)
        elif what == "stream":
            n, log = int(rest[0]), rest[1]

            @ray.remote(num_cpus=1, max_retries=5)
            def work(i: int) -> tuple[int, int, str]:
                import time

                here = ray.util.get_node_ip_address()
                with open(log, "a") as fh:
                    fh.write(f"start {i} {here}\n")
                time.sleep(0.4)  # long enough that a cut finds tasks in flight
                return i, _value(i), here

            pending = [work.options(scheduling_strategy="SPREAD").remote(i) for i in range(n)]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=120)
                if not ready:
                    print("stuck", flush=True)
                    return 1
                i, value, here = ray.get(ready[0])
                print(f"done {i} {value} {here}", flush=True)
            print(f"all {n}", flush=True)
        else:
            print(f"unknown command {what}", file=sys.stderr)
            return 2
    finally:
        cluster.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
