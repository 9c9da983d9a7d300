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
    """Two worker processes on a machine with at least four CPUs, else none (measured on 2 CPUs: the
    workers only compete with the main process and the database, and add ~250 MB each)."""
    return 2 if (os.cpu_count() or 1) >= 4 else 0


def prepared_chunks(listfile: ListFile, mapping: ListMapping, region: str, *, workers: int = 0) -> Iterator[Prepared]:
    """Every chunk of `listfile`, prepared, in order. workers=0: in this process."""
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

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
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
