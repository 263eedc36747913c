"""Nearest voices by speaker embedding, within a speaker label.

A speaker label is not always one voice: a film, a broadcast or a talk show prepared from its subtitles is one
"speaker" (the source's name) holding every character's voice. Where a sample's speech prompt or an evaluation
sentence's voice comes from "another utterance of the same speaker", picking among the utterances whose
``speaker_emb`` (upstream's L2-normalised voice-encoder embedding) is closest keeps it in the sample's own voice.
Nearest neighbours need no threshold, so they are as safe for a true single-speaker corpus (its nearest are the
same voice anyway) as for a film.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Sequence

import numpy as np

MAX_POOL = 4096  # a larger speaker label is searched in random samples of this many utterances (one per block)


def speaker_embeddings(dataset) -> np.ndarray:
    """A ``datasets.Dataset``'s ``speaker_emb`` column as one (n, d) float32 array (read in one go)."""
    embeddings = dataset.select_columns(["speaker_emb"]).with_format("numpy")[:]["speaker_emb"]
    if embeddings.dtype == object:  # rows of a variable-length list feature
        embeddings = np.stack(list(embeddings))
    return np.asarray(embeddings, dtype=np.float32)


def unit_rows(embeddings) -> np.ndarray:
    """(n, d) float32 rows scaled to length 1 (zero rows, and rows with a NaN or inf, become zero: they are no
    nearer to anything, and never to themselves)."""
    matrix = np.array(embeddings, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"speaker embeddings must form an (n, d) matrix, got shape {matrix.shape}")
    matrix[~np.isfinite(matrix).all(axis=1)] = 0.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def mean_voice(embeddings) -> np.ndarray:
    """The speaker embedding of several utterances joined: the mean of their unit embeddings, scaled to length 1
    (as upstream's ``VoiceEncoder.utt_to_spk_embed``; rows with a NaN or inf are left out, and none left is zero)."""
    mean = unit_rows(embeddings).mean(axis=0)
    norm = np.linalg.norm(mean)
    return mean / norm if norm > 0 else mean


def nearest(queries: np.ndarray, pool: np.ndarray, k: int, *, exclude: Sequence[int] | None = None,
            block: int = 2048) -> np.ndarray:
    """For each query row, the indices of the ``k`` most cosine-similar pool rows, nearest first: (n, min(k, m)).
    ``exclude[i]``: a pool index query i may not take (itself), or -1."""
    queries, pool = unit_rows(queries), unit_rows(pool)
    k = min(k, len(pool) - (exclude is not None))
    if k <= 0 or not len(queries):
        return np.zeros((len(queries), 0), dtype=np.int64)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block):
        sims = queries[start:start + block] @ pool.T
        if exclude is not None:
            rows = np.arange(len(sims))
            own = np.asarray(exclude[start:start + block])
            sims[rows[own >= 0], own[own >= 0]] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[start:start + block] = np.take_along_axis(top, order, axis=1)
    return out


def voice_neighbours(speakers: Sequence, embeddings, k: int, *, max_pool: int = MAX_POOL,
                     block: int = 2048) -> dict[int, np.ndarray]:
    """For each row of a dataset whose speaker label has more than ``k`` other rows, the indices of the ``k``
    other rows of that label with the closest voice, nearest first. Rows of smaller labels are left out (every
    other row of their label is a candidate already). A label larger than ``max_pool`` is searched ``block`` rows
    at a time, each block in its own random sample of ``max_pool`` rows of the label (seeded by the label's name
    and the block: deterministic, and every row of the label can be chosen)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, speaker in enumerate(speakers):
        groups[str(speaker)].append(index)
    matrix = None
    result: dict[int, np.ndarray] = {}
    for speaker, members in groups.items():
        if len(members) <= k + 1:
            continue
        if matrix is None:
            matrix = unit_rows(embeddings)
        members_arr = np.asarray(members)
        step = len(members) if len(members) <= max_pool else block
        for number, start in enumerate(range(0, len(members), step)):
            queries = members_arr[start:start + step]
            pool = members_arr
            if len(members) > max_pool:
                rng = np.random.default_rng([zlib.crc32(speaker.encode("utf-8")), number])
                pool = np.sort(rng.choice(members_arr, size=max_pool, replace=False))
            position = {int(row): p for p, row in enumerate(pool)}
            exclude = [position.get(int(row), -1) for row in queries]
            picks = pool[nearest(matrix[queries], matrix[pool], k, exclude=exclude)]
            for row, chosen in zip(queries, picks):
                result[int(row)] = chosen
    return result
