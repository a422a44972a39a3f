"""Where a shard's replicas run: one placement group per shard, so losing one node never loses every replica."""

from __future__ import annotations

PLACEMENT_TIMEOUT = 60  # seconds for a shard's nodes to be reserved before its replicas go anywhere (SPREAD)
# What a replica reserves on its node: a token, as a replica holds no CPU (it answers between other work), but a
# placement group needs some resource to place. Memory, not CPU: a build's workers may hold every CPU.
_BUNDLE = {"memory": 2**20}


def placement_groups(n: int, replicas: int) -> list:
    """One placement group per shard, a bundle per replica: STRICT_SPREAD (each replica on a node of its own)
    when the cluster has at least `replicas` nodes, else SPREAD (as apart as it can). Empty when the groups
    cannot be placed in time: the replicas are then spread by Ray's SPREAD strategy alone."""
    import ray  # heavy (~2 s): only cluster search pays for it
    from ray.util.placement_group import placement_group

    alive = sum(1 for node in ray.nodes() if node.get("Alive"))
    strategy = "STRICT_SPREAD" if alive >= replicas else "SPREAD"
    groups = [placement_group([dict(_BUNDLE) for _ in range(replicas)], strategy=strategy) for _ in range(n)]
    ready, _ = ray.wait([g.ready() for g in groups], num_returns=len(groups), timeout=PLACEMENT_TIMEOUT)
    if len(ready) < len(groups):
        remove_groups(groups)
        return []
    return groups


def remove_groups(groups: list) -> None:
    from ray.util.placement_group import remove_placement_group  # heavy: Ray, as above

    for group in groups:
        try:
            remove_placement_group(group)
        except Exception:  # noqa: BLE001 - the cluster is going or gone
            pass


def strategy(group, bundle: int):
    """How a replica is scheduled: into its bundle of the shard's group, or spread when there is no group."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # heavy: Ray, as above

    return PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=bundle) if group else "SPREAD"
