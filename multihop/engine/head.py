"""The output layer for decoding: exact fp32 winners without a full fp32 vocabulary projection.

Decoding needs, per row, only the best token (greedy) or the best k tokens with their logits
(top-k sampling). On a CPU a full fp32 projection onto a large vocabulary (262k tokens for
Gemma 3) costs more than all the layers together, and most of it goes into writing and re-reading
the logits. So `ExactHead` screens every token (its `screen`: scores computed in parts small
enough to take each block's maximum while still in cache), bounds that screen's error rigorously,
and computes in fp32, as the full projection does, only the tokens the bound cannot rule out. The
winners and their logits are those of the full fp32 projection.

The screen runs in bf16 where the CPU multiplies bf16 faster than fp32 (AMX: several times; some
CPUs with AVX512-BF16 twice, others slower: measured once per process, `screen_dtype`), else in
fp32 (then its error is only the sum's rounding). Either way the winners are exact.

The bound, for a token with weights w (screen dtype: w + e, e known exactly) and a hidden state h
(h + d, d known exactly), an fp32 sum of n products, and the result rounded once to the screen
dtype (unit roundoff u: 2^-8 for bf16, 2^-24 for fp32) (s):
    |s - w.h| <= u'|s| + |h| max|e| + |d| max|w + e| + 1.1 n 2^-24 max|w + e| |h + d|,
with u' = u / (1 - u). It assumes fp32 accumulation (true of the CPU's bf16 kernels), so the
screen runs on CPUs only; elsewhere every logit is computed in full.
"""

import time
import weakref

import torch

BLOCK = 64  # tokens per screening block: one maximum per block, then only candidate blocks are opened
DENSE = 256  # candidate blocks beyond which a row's logits are computed in full (flat distributions)
SCREEN_ROWS = 512  # rows per screen product (bounds the buffer `screen` keeps)
SCREEN_TOKENS = 4096  # tokens per part of a screen product: its scores are still in cache for their maxima
ROW_MULTIPLE = 32  # the CPU's bf16 (AMX) kernel runs a third slower on other row counts
GROUP, WIDE = 16, 64  # rows and columns from which the CPU's fp32 kernel sums like the full product
_HEADS = weakref.WeakKeyDictionary()
_SCREEN_DTYPES = {}  # hidden size -> the screen's dtype on this CPU (`screen_dtype`)


def exact_head(model) -> "ExactHead":
    """The model's `ExactHead`, built once (a bf16 screen holds a bf16 copy of the output weights)."""
    if model not in _HEADS:
        _HEADS[model] = ExactHead(model)
    return _HEADS[model]


def screen_dtype(hidden: int) -> torch.dtype:
    """The faster of bf16 and fp32 for a screen product over `hidden` dimensions on this CPU: with
    AMX or AVX512-BF16, whichever a screen-shaped product runs faster in (once per process and size:
    AVX512-BF16 ran at half fp32's speed on one machine, twice on another, and AMX, though listed,
    may be barred from the matrix library, e.g. by ONEDNN_MAX_CPU_ISA); else fp32. Changes the time
    only: the head's winners are exact either way."""
    if not (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()):
        return torch.float32
    if hidden not in _SCREEN_DTYPES:
        generator = torch.Generator().manual_seed(0)  # not the global one: no draw elsewhere depends on this CPU
        weights = torch.randn(SCREEN_TOKENS, hidden, generator=generator)
        columns = torch.randn(hidden, 2 * ROW_MULTIPLE, generator=generator)
        seconds = {dtype: _best_time(weights.to(dtype), columns.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}
        _SCREEN_DTYPES[hidden] = min(seconds, key=seconds.get)
    return _SCREEN_DTYPES[hidden]


def _best_time(a, b, repeats=5) -> float:
    a @ b  # warm: the kernel's first call sets it up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return best


class ExactHead:
    def __init__(self, model):
        head = model.get_output_embeddings()
        self.weight = head.weight.detach()
        self.bias = None if getattr(head, "bias", None) is None else head.bias.detach()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        vocab, hidden = self.weight.shape
        # screening pays where the exact dtype is fp32 on a CPU; a bias would need its own bound,
        # and soft-capping (Gemma 2) can round distant logits to the same capped value: a tie the
        # screen could not see
        self.screened = (
            self.weight.dtype == torch.float32
            and self.weight.device.type == "cpu"
            and self.bias is None
            and self.softcap is None
            and vocab >= 4 * BLOCK
        )
        if self.screened:
            self.dtype = screen_dtype(hidden)
            u = torch.finfo(self.dtype).eps / 2  # unit roundoff: 2^-8 for bf16, 2^-24 for fp32
            low = self.weight.to(self.dtype)  # fp32: the weights themselves
            low_norm = float(low.float().norm(dim=1).max())
            # fp32: no error, and no weight-sized temporaries to find that out (0.3 s of 0.35 s here)
            self.error_norm = 0.0 if low is self.weight else float((self.weight - low.float()).norm(dim=1).max())
            # padded with zero rows to whole blocks (their scores are set to -inf)
            self.low = torch.nn.functional.pad(low, (0, 0, 0, (-vocab) % BLOCK)) if vocab % BLOCK else low
            self.d_coefficient = low_norm  # times |d|
            self.sum_coefficient = 1.1 * hidden * 2.0**-24 * low_norm  # times |h + d|
            self.output_rounding = u / (1 - u)
            self._buffer = torch.empty(0, dtype=self.dtype)  # `screen`'s scores

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Full logits (rows, vocab) as the model's head computes them, soft-capped, in fp32."""
        # capped in the model's dtype, then widened: as its forward and then `generate` do (in bf16
        # the cap rounds, and can tie tokens that fp32 would not)
        logits = torch.nn.functional.linear(hidden.to(self.weight.dtype), self.weight, self.bias)
        return self._capped(logits).float()

    def _capped(self, logits):
        if self.softcap is None:
            return logits
        return torch.tanh(logits / self.softcap) * self.softcap  # as the model's forward does

    def argmax(self, hidden: torch.Tensor) -> torch.Tensor:
        """The greedy token of each row (ties to the lowest id, as argmax over full logits)."""
        values, tokens = self.candidates(hidden, 1)
        return tokens.gather(1, values.argmax(dim=-1, keepdim=True))[:, 0]

    def candidates(self, hidden: torch.Tensor, k: int):
        """Per row, exact logits of a set of tokens that surely holds its k best: `(values,
        tokens)`, both (rows, width), padded with -inf (token 0). Tokens ascend within a row."""
        if not self.screened or k > self.weight.shape[0] // BLOCK:
            logits = self.logits(hidden)
            return logits, torch.arange(logits.shape[1], device=logits.device).expand_as(logits)
        hidden = hidden.float()
        # screened in near-equal chunks of at most SCREEN_ROWS rows
        chunks = -(-hidden.shape[0] // SCREEN_ROWS)
        parts = [self._screened(part, k) for part in hidden.split(-(-hidden.shape[0] // chunks))]
        width = max(values.shape[1] for values, _, _ in parts)
        values = torch.cat([_widened(values, width, float("-inf")) for values, _, _ in parts])
        tokens = torch.cat([_widened(tokens, width, 0) for _, tokens, _ in parts])
        dense = torch.cat([dense for _, _, dense in parts])
        if bool(dense.any()):  # all chunks' together: one pass over the fp32 weights
            values, tokens = self._with_dense(values, tokens, hidden, dense, k)
        return values, tokens

    def _screened(self, hidden, k):
        """`candidates` of fp32 rows from one screen, and which rows need every logit (`dense`)."""
        rows = hidden.shape[0]
        scores, block_max = self.screen(hidden)
        blocks = scores.unflatten(0, (-1, BLOCK))
        block_max = block_max.T.contiguous().float()  # (rows, blocks)
        threshold = self._threshold(hidden, block_max.topk(k, dim=-1).values[:, -1])
        # rows whose candidates fill many blocks (flat distributions): every logit in full
        opened = block_max >= threshold[:, None]
        dense = opened.sum(dim=-1) > DENSE
        row, block = (opened & ~dense[:, None]).nonzero(as_tuple=True)
        pair, offset = (blocks[block, :, row].float() >= threshold[row, None]).nonzero(as_tuple=True)
        row, token = row[pair], block[pair] * BLOCK + offset
        values, tokens = self._layout(rows, row, token, self._exact(hidden, row, token))
        return values, tokens, dense

    def margin(self, hidden: torch.Tensor) -> torch.Tensor:
        """Per row, c of the bound |screen - logit| <= c + u'|screen| (module docstring)."""
        hidden = hidden.float()
        low = hidden.to(self.dtype).float()
        return 1.001 * (  # 1.001: the fp32 rounding of this sum of norms itself
            hidden.norm(dim=-1) * self.error_norm
            + (low - hidden).norm(dim=-1) * self.d_coefficient
            + low.norm(dim=-1) * self.sum_coefficient
        )

    def screen(self, hidden: torch.Tensor):
        """The scores in the screen's dtype, token-major: (vocab padded to whole blocks, rows),
        before soft-capping, pad tokens at -inf; and each block's maximum score, (blocks, rows).

        The CPU's bf16 kernel computes this shape faster than its transpose. It runs SCREEN_TOKENS
        tokens at a time, each part's maxima taken while the part is still in cache, into a buffer
        kept between calls (a fresh one costs more in page faults than the product): the scores
        are valid until the next call.
        """
        rows, padded_vocab = hidden.shape[0], len(self.low)
        multiple = ROW_MULTIPLE if self.dtype == torch.bfloat16 else 1
        width = -(-rows // multiple) * multiple  # zero rows up to the kernel's fast counts
        columns = torch.nn.functional.pad(hidden.float().to(self.dtype), (0, 0, 0, width - rows)).T
        if self._buffer.numel() < padded_vocab * width:
            self._buffer = torch.empty(padded_vocab * width, dtype=self.dtype)
        scores = self._buffer[: padded_vocab * width].view(padded_vocab, width)
        maxima = torch.empty(padded_vocab // BLOCK, width, dtype=self.dtype)
        vocab = self.weight.shape[0]
        for start in range(0, padded_vocab, SCREEN_TOKENS):
            part = scores[start : start + SCREEN_TOKENS]
            torch.mm(self.low[start : start + SCREEN_TOKENS], columns, out=part)
            if start + len(part) > vocab:
                part[vocab - start :] = float("-inf")
            # token-major, so each block's maximum is an elementwise maximum of BLOCK contiguous rows
            torch.amax(part.view(-1, BLOCK, width), dim=1, out=maxima[start // BLOCK : (start + len(part)) // BLOCK])
        return scores[:, :rows], maxima[:, :rows]

    def _threshold(self, hidden, kth_block_max):
        """Per row, the lowest screen score a token can have and still be among the k best.

        The k-th best block maximum L is at most the k-th best score, so the k-th best logit is at
        least g(L) = L - u'|L| - c; a token of score s has a logit at most f(s) = s + u'|s| + c;
        both increase with s, and the threshold solves f(T) = g(L).
        """
        c, u = self.margin(hidden), self.output_rounding
        floor = kth_block_max - u * kth_block_max.abs() - c - c  # g(L) - c
        return torch.where(floor >= 0, floor / (1 + u), floor / (1 - u))

    def _exact(self, hidden, row, token):
        """fp32 logits of (row, token) pairs (row-major): per group of rows, one matrix product
        over the union of the group's tokens, shaped as the full projection's (at least GROUP
        rows and WIDE columns), so that the CPU's kernel sums each logit in the same order."""
        out = torch.empty(len(row), dtype=torch.float32, device=hidden.device)
        ends = torch.bucketize(torch.arange(GROUP, hidden.shape[0] + GROUP, GROUP, device=row.device), row).tolist()
        begin = 0
        for first, end in zip(range(0, hidden.shape[0], GROUP), ends, strict=True):
            if end > begin:
                union, column = torch.unique(token[begin:end], return_inverse=True)
                products = self._product(hidden[first : first + GROUP], union)
                out[begin:end] = products[row[begin:end] - first, column]
            begin = end
        return self._capped(out)

    def _product(self, hidden, tokens=None):
        """hidden @ weight[tokens].T (all tokens if None) in fp32, computed at a matrix-product
        shape (see `_exact`) and cut back."""
        rows = hidden.shape[0]
        hidden = torch.nn.functional.pad(hidden, (0, 0, 0, max(GROUP - rows, 0)))
        if tokens is None:
            return (hidden @ self.weight.T)[:rows]
        count = len(tokens)
        tokens = torch.nn.functional.pad(tokens, (0, max(WIDE - count, 0)))
        return (hidden @ self.weight[tokens].T)[:rows, :count]

    @staticmethod
    def _layout(rows, row, token, values):
        """(row, token) pairs, row-major with tokens ascending, as a padded (rows, width) matrix."""
        counts = torch.bincount(row, minlength=rows)
        slot = torch.arange(len(row), device=row.device) - (torch.cumsum(counts, 0) - counts)[row]
        width = max(int(counts.max()) if len(row) else 0, 1)
        padded_values = torch.full((rows, width), float("-inf"), device=values.device)
        padded_tokens = torch.zeros((rows, width), dtype=torch.long, device=values.device)
        padded_values[row, slot] = values
        padded_tokens[row, slot] = token
        return padded_values, padded_tokens

    def _with_dense(self, values, tokens, hidden, dense, k):
        """Put the k best of full logits into the rows marked `dense` (tokens ascending)."""
        logits = self._capped(self._product(hidden[dense]))
        if k == 1:
            best = logits.argmax(dim=-1, keepdim=True)
        else:
            best = logits.topk(k, dim=-1).indices.sort(dim=-1).values
        width = max(values.shape[1], k)
        values, tokens = _widened(values, width, float("-inf")), _widened(tokens, width, 0)
        values[dense], tokens[dense] = float("-inf"), 0
        values[dense, : best.shape[1]] = logits.gather(1, best)
        tokens[dense, : best.shape[1]] = best
        return values, tokens


def _widened(matrix, width, fill):
    """`matrix` padded on the right with `fill` to `width` columns."""
    return torch.nn.functional.pad(matrix, (0, width - matrix.shape[1]), value=fill)
