"""Prepare a list's chunks in order, on worker processes when the file is big.

Phone normalisation and validation are CPU-bound Python; with worker processes they use the
cores the main process (reading, building COPY text) and the database leave idle. Workers are
spawned (not forked: the importing process holds database connections and a writer thread) and
each keeps its own PhoneNormalizer. Results come back in file order.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator

from autodialer.lists.mapping import ListMapping
from autodialer.lists.phones import PhoneNormalizer
from autodialer.lists.prepare import Prepared, prepare_chunk
from autodialer.lists.reading import ListFile

_normalizers: dict[str, PhoneNormalizer] = {}


def _prepare(chunk, mapping: ListMapping, region: str, columns: list[str]) -> Prepared:
    normalizer = _normalizers.get(region)
    if normalizer is None:
        normalizer = _normalizers[region] = PhoneNormalizer(region)
    return prepare_chunk(chunk, mapping, normalizer, columns)


def default_workers() -> int:
    """Worker processes for a big list: two on a machine with at least four CPUs, one on two or
    three, none on one. Measured on 2 CPUs (bench/list_ingest.py, a million rows): in this
    process 22.7 s; one worker 18-20 s (the worker prepares, this process builds the COPY text,
    the database loads: three streams on two cores); two workers 21 s (they compete with the
    database). Each worker costs ~260 MB."""
    cpus = os.cpu_count() or 1
    return 2 if cpus >= 4 else 1 if cpus >= 2 else 0


def prepared_chunks(listfile: ListFile, mapping: ListMapping, region: str, *, workers: int = 0,
                    gc_threshold: tuple[int, int, int] | None = None) -> Iterator[Prepared]:
    """Every chunk of `listfile`, prepared, in order. workers=0: in this process.
    `gc_threshold`: the collector's thresholds in the worker processes (the importer's own are
    the caller's business: autodialer.store.bulk.fewer_collections)."""
    chunks = listfile.chunks()
    if workers <= 0:
        normalizer = PhoneNormalizer(region)
        for chunk in chunks:
            yield prepare_chunk(chunk, mapping, normalizer, listfile.columns)
        return
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None:  # one chunk: not worth starting processes
        yield prepare_chunk(first, mapping, PhoneNormalizer(region), listfile.columns)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import gc

    init = {"initializer": gc.set_threshold, "initargs": tuple(gc_threshold)} if gc_threshold else {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), **init) as pool:
        pending: deque = deque()
        for chunk in _chain(first, second, chunks):
            pending.append(pool.submit(_prepare, chunk, mapping, region, listfile.columns))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chain(first, second, rest):
    yield first
    yield second
    yield from rest
