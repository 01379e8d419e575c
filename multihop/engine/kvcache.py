"""A key-value cache with its room reserved up front, for the engine's decoding loop.

transformers' `DynamicCache` grows by concatenation: every step copies every layer's keys and
values (a third of the engine's time on the default model). `reserved` gives a cache whose
layers write each step in place and hand attention the same tensors (a view of the filled part),
so attention computes exactly what it computes with the growing cache.

Its room can hold more rows than the batch has: rows that share their past share one row of the
batch until they part (`regroup` then copies only the rows that moved).
"""

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer


class _ReservedLayer(DynamicLayer):
    """A full-attention layer, or a sliding-window layer that never fills its window (the caller
    checks), with room for `room` rows of `capacity` positions; the batch is its first rows."""

    def __init__(self, is_sliding: bool, room: int, capacity: int):
        super().__init__()
        self.is_sliding, self.room, self.capacity, self.length = is_sliding, room, capacity, 0

    def _write(self, keys, values):
        if not self.is_initialized:
            self.device, self.is_initialized = keys.device, True
            shape = (self.room, keys.shape[1], self.capacity)
            self.key_room = keys.new_empty((*shape, keys.shape[-1]))
            self.value_room = values.new_empty((*shape, values.shape[-1]))
        rows, n = keys.shape[0], keys.shape[-2]
        self.key_room[:rows, :, self.length : self.length + n] = keys
        self.value_room[:rows, :, self.length : self.length + n] = values
        self.length += n
        self._view(rows)

    def _view(self, rows):
        self.keys = self.key_room[:rows, :, : self.length]
        self.values = self.value_room[:rows, :, : self.length]

    def regroup(self, source):
        rows, source = len(source), source.to(self.key_room.device)  # over several GPUs: this layer's device
        moved = (source != torch.arange(rows, device=source.device)).nonzero()[:, 0]
        if len(moved):  # the right-hand side is gathered (a copy) before it is written; filled positions only
            filled = slice(0, self.length)
            self.key_room[moved, :, filled] = self.key_room[source[moved], :, filled]
            self.value_room[moved, :, filled] = self.value_room[source[moved], :, filled]
        self._view(rows)

    def update(self, key_states, value_states, *args, **kwargs):
        self._write(key_states, value_states)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.length + query_length, 0


def key_value_layers(cache) -> bool:
    """Whether every layer of `cache` holds only keys and values (full or sliding-window)."""
    return all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer) for layer in cache.layers)


def reserved(model, rows: int, capacity: int, *, prefix=None, room: int | None = None, prefix_rows=None):
    """A cache for a batch of `rows` rows, with room for `room` rows (default `rows`) of up to
    `capacity` positions, holding `prefix` (a one-row cache) in every row of the batch, or with
    `prefix_rows`, row `prefix_rows[i]` of `prefix` in row i; None where the model's cache has
    layers of other kinds, or a sliding window that `capacity` positions would fill (then the
    growing cache does the work)."""
    template = prefix if prefix is not None else DynamicCache(config=model.config)
    layers = []
    for layer in template.layers:
        if type(layer) is DynamicSlidingWindowLayer:
            if capacity >= layer.sliding_window:
                return None
        elif type(layer) is not DynamicLayer:
            return None
        fresh = _ReservedLayer(type(layer) is DynamicSlidingWindowLayer, room or rows, capacity)
        if prefix is not None and layer.is_initialized and layer.keys.numel():
            if prefix_rows is None:
                fresh._write(layer.keys.expand(rows, -1, -1, -1), layer.values.expand(rows, -1, -1, -1))
            else:
                index = prefix_rows.to(layer.keys.device)
                fresh._write(layer.keys[index], layer.values[index])
        layers.append(fresh)
    if not layers:
        return None
    cache = DynamicCache(config=model.config)
    cache.layers = layers
    return cache


def regroup(cache, source: torch.Tensor):
    """Row i of the batch becomes what row `source[i]` was (rows past `len(source)` are dropped)."""
    if all(isinstance(layer, _ReservedLayer) for layer in cache.layers):
        for layer in cache.layers:
            layer.regroup(source)
    else:
        cache.reorder_cache(source)
