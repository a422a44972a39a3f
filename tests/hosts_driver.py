"""A Ray driver that test_hosts.py runs inside one of its namespaces, as a user runs the CLI on a node.

    python hosts_driver.py ADDRESS nodes            -> one JSON line: alive node addresses, and where
                                                      a task pinned to each node actually ran
    python hosts_driver.py ADDRESS hold             -> a task on every node, "ready", then stays joined
                                                      until its stdin closes
    python hosts_driver.py ADDRESS stream N LOG     -> "done I VALUE ADDRESS" per finished task, then
                                                      "all N"; each attempt appends "start I ADDRESS"
                                                      to LOG, so the test can see retries
    python hosts_driver.py ADDRESS queries INDEX N  -> answers N queries with the local backend, then
                                                      "ready K@ADDRESS..." (each replica's shard and host), then
                                                      the same queries in turn on backend = cluster: "same I", "differs I ..." or
                                                      "failed I ...", then "all N"

It joins through corpus_search.cluster.connect, the way the build and the searcher do.

Its stdout carries only those lines, each written whole by one write(2). Everything else this process
prints goes to stderr. Ray's driver prints the cluster's error messages ("(raylet) A worker died ...") from a
thread of its own, and print() writes a line and its newline in two calls, so such a message could land in
the middle of a protocol line and hide it from the test (seen once in CI: "same 39" never arrived although
"all 45" did). corpus_search.cluster now sends those messages to stderr itself; this keeps the protocol
clean of anything else too.
"""

from __future__ import annotations

import json
import os
import sys

_PROTOCOL_FD = os.dup(1)
os.dup2(2, 1)  # fd 1, and so sys.stdout, now goes to stderr; the protocol keeps the original stdout


def _say(line: str) -> None:
    """One protocol line to the original stdout, in a single write (atomic on a pipe, under PIPE_BUF)."""
    data = (line + "\n").encode()
    while data:
        data = data[os.write(_PROTOCOL_FD, data):]


def _value(i: int) -> int:
    # Deterministic work, so "results unchanged" is checkable whichever node did it.
    return sum((i * k) % 97 for k in range(20000))


def _queries(corpus, n: int) -> list[tuple[str, str]]:
    """Queries from the index's own text (first three words of passages spread through it), in every mode."""
    passages = corpus.passages()
    words = [[w for w in p.text.split() if w.isalpha()][:3] for p in passages[:: max(1, len(passages) // 12)]]
    texts = [" ".join(w) for w in words if w]
    modes = ("hybrid", "keyword", "semantic")
    return [(texts[i % len(texts)], modes[i % 3]) for i in range(n)]


def _answer(result) -> list:
    return [(h.passage.passage_id, round(h.score, 6)) for h in result.hits] + [result.total]


def queries(address: str, index: str, n: int) -> int:
    """The same queries on the local backend, then on the cluster: every answer must be the local one."""
    import os

    from corpus_search.api import Corpus

    local = Corpus.open(index)
    try:
        stream = _queries(local, n)
        expected = [_answer(local.search(q, mode=m)) for q, m in stream]
    finally:
        local.close()
    os.environ.update(CORPUS_SEARCH_BACKEND="cluster", CORPUS_SEARCH_CLUSTER_ADDRESS=address)
    sharded = Corpus.open(index)
    import ray

    # Where each shard's replicas run (GCS's actor table): the test checks they are on different hosts, and
    # cuts a host that held one.
    table = {actor_id: a["Address"]["IPAddress"] for actor_id, a in ray._private.state.actors().items()
             if a["ActorClassName"].endswith("ShardServer") and a["State"] == "ALIVE"}
    placed = [f"{k}@{table.get(r.handle._actor_id.hex(), '?')}"
              for k, reps in enumerate(sharded.shards.replicas) for r in reps]
    _say("ready " + " ".join(placed))
    try:
        for i, (q, m) in enumerate(stream):
            try:
                got = _answer(sharded.search(q, mode=m))
            except Exception as exc:  # noqa: BLE001 - every failed query is reported, none hidden
                _say(f"failed {i} {type(exc).__name__}: {str(exc)[:300]!r}")
                continue
            _say(f"same {i}" if got == expected[i] else f"differs {i} {q!r} {m}")
        _say(f"all {n}")
    finally:
        sharded.close()
    return 0


def main(argv: list[str]) -> int:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from corpus_search import cluster

    from corpus_search.errors import CorpusSearchError

    address, what, *rest = argv
    if what == "queries":  # the searcher joins the cluster itself, through the settings
        return queries(address, rest[0], int(rest[1]))
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
            _say(json.dumps({"alive": alive, "ran": ran}))
        elif what == "hold":
            # A task on every node (so each has started a worker), then stay joined until stdin closes.
            @ray.remote(num_cpus=1)
            def where() -> str:
                return ray.util.get_node_ip_address()

            ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
                     for n in ray.nodes() if n["Alive"]], timeout=60)
            _say("ready")
            sys.stdin.read()
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
                    _say("stuck")
                    return 1
                i, value, here = ray.get(ready[0])
                _say(f"done {i} {value} {here}")
            _say(f"all {n}")
        else:
            print(f"unknown command {what}", file=sys.stderr)
            return 2
    finally:
        cluster.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
