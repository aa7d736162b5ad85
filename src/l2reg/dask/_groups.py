"""One task per worker thread over the row blocks that worker holds (the GLM passes).

A Newton fit makes several passes over X, and on a distributed cluster each
task costs a scheduler round trip whatever it computes.  Measured on the
2-core benchmark machine (2 worker processes of one thread, X persisted in 8
blocks; round-robin, the machine shared): eight tasks returning a 201 x 201
array, merged by a task, took 100-120 ms of pure overhead per pass; two
tasks (one per worker, each over the four blocks it holds) took 60-67 ms as
a delayed graph with a merge task, 44-54 ms with the two results summed on
the client, and 30-36 ms submitted as futures and summed on the client
(no graph to build, no merge hop).  So:

* each worker thread gets one task per pass, which runs the block kernel on
  each of its blocks in turn and merges their results locally;
* when every block of X is persisted on a distributed cluster, the tasks
  are submitted directly (``client.submit``) on the blocks' futures, and the
  results are merged on the client (by a tree of merge tasks on the workers
  when there are more than :data:`~l2reg.dask._collections.SPLIT_EVERY`);
* otherwise (X not persisted, or a local scheduler) each block keeps one
  delayed task, reduced by :func:`~l2reg.dask._collections.tree_reduce`:
  the threaded scheduler's per-task overhead is small, and an unpersisted
  block is computed wherever its task runs.

A group's task prefers the worker that holds its blocks (a loose
restriction, as :meth:`RowBlocks.tasks`), so X still never moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask

from l2reg.dask._collections import SPLIT_EVERY, RowBlocks, all_holders, compute, tree_reduce

__all__ = ["BlockGroups", "group_blocks"]


@dataclass(frozen=True)
class BlockGroups:
    """The row blocks of one fit split into groups, one task each per pass.

    Attributes
    ----------
    blocks : RowBlocks
    members : list of list of int
        Block indices of each group.
    workers : list of str or None
        The worker each group's task prefers (None: any worker).
    client : distributed.Client or None
        Set when every block of X is persisted: tasks are then submitted as
        futures on ``inputs``.
    inputs : tuple or None
        ``(X, Y, weights)`` futures per block (``weights`` None for unit weights).
    """

    blocks: RowBlocks
    members: list
    workers: list
    client: object = None
    inputs: tuple | None = None

    def reduce(self, function, combine, *args):
        """``combine`` of ``function(X_i, Y_i, w_i, i, start_i, *args)`` over all blocks.

        ``combine(list) -> merged`` must be associative; it merges the
        blocks of a group on its worker, then the groups.
        """
        if self.client is None:
            task = dask.delayed(_run_group, pure=True)
            parts = [
                task(function, combine, *self._group_inputs(members, self._delayed_inputs()), args)
                for members in self.members
            ]
            (result,) = compute(tree_reduce(parts, combine))
            return result
        futures = [
            self.client.submit(
                _run_group,
                function,
                combine,
                *self._group_inputs(members, self.inputs),
                args,
                workers=[worker],
                allow_other_workers=True,
                pure=False,
            )
            for members, worker in zip(self.members, self.workers, strict=True)
        ]
        while len(futures) > SPLIT_EVERY:
            futures = [
                self.client.submit(combine, futures[i : i + SPLIT_EVERY], pure=False)
                for i in range(0, len(futures), SPLIT_EVERY)
            ]
        parts = self.client.gather(futures)
        return parts[0] if len(parts) == 1 else combine(parts)

    def _delayed_inputs(self):
        return self.blocks.X, self.blocks.Y, self.blocks.weights

    def _group_inputs(self, members, inputs):
        X, Y, weights = inputs
        positions = [(i, int(self.blocks.starts[i])) for i in members]
        return (
            [X[i] for i in members],
            [Y[i] for i in members],
            None if weights is None else [weights[i] for i in members],
            positions,
        )


def _run_group(function, combine, Xs, Ys, weights, positions, args):
    """The block kernel on each block of one group, merged (a worker task)."""
    parts = [
        function(X, Y, None if weights is None else weights[k], index, start, *args)
        for k, (X, Y, (index, start)) in enumerate(zip(Xs, Ys, positions, strict=True))
    ]
    return parts[0] if len(parts) == 1 else combine(parts)


def group_blocks(blocks: RowBlocks) -> BlockGroups:
    """Group the blocks by a worker holding them, one group per thread of that worker.

    Rows are balanced across threads: blocks held by one worker go to it;
    a block with replicas (a ``compute`` of all of X gathers copies of its
    blocks on one worker, for a while) goes to the holder with the fewest
    rows per thread so far, largest blocks first.  Within a worker, each
    block goes to its lightest group.  Without a holder for every block,
    each block is its own (delayed) group.
    """
    if blocks.futures:
        from distributed import wait

        wait(blocks.futures)  # X is being persisted: its blocks' places are then known
    holders = all_holders(blocks)
    if len(holders) < len(blocks):
        return BlockGroups(blocks, [[i] for i in range(len(blocks))], [None] * len(blocks))
    from distributed import default_client

    client = default_client()
    threads = {worker: max(1, int(n)) for worker, n in client.nthreads().items()}
    ends = [*blocks.starts[1:], blocks.n_samples]
    rows = [int(end - start) for start, end in zip(blocks.starts, ends, strict=True)]
    by_worker: dict[str, list[int]] = {}
    load: dict[str, float] = {}
    for i in sorted(range(len(blocks)), key=lambda i: (len(holders[i]), -rows[i])):
        worker = min(holders[i], key=lambda w: load.get(w, 0.0))
        by_worker.setdefault(worker, []).append(i)
        load[worker] = load.get(worker, 0.0) + rows[i] / threads.get(worker, 1)
    members, workers = [], []
    for worker, indices in by_worker.items():
        n_groups = min(threads.get(worker, 1), len(indices))
        groups = [[] for _ in range(n_groups)]
        loads = [0] * n_groups
        for i in sorted(indices, key=lambda i: -rows[i]):
            lightest = loads.index(min(loads))
            groups[lightest].append(i)
            loads[lightest] += rows[i]
        members.extend(sorted(group) for group in groups)
        workers.extend([worker] * n_groups)
    return BlockGroups(blocks, members, workers, client, _block_futures(client, blocks))


def _block_futures(client, blocks: RowBlocks) -> tuple:
    """Futures of X's blocks (persisted) and of y's and the weights' (computed once).

    y and the weights are computed once for the whole fit (persisted ones are
    reused as they are): n numbers, against n p for X.
    """
    by_key = {f.key: f for f in blocks.futures}
    X = [by_key[block.key] for block in blocks.X]
    Y = client.compute(blocks.Y)
    weights = None if blocks.weights is None else client.compute(blocks.weights)
    return X, Y, weights
