"""OCR-like noise (l<->1, O<->0, rn<->m, dropped spaces), never inside a protected gold-bearing span.
"""

from __future__ import annotations

import numpy as np

_LUT = np.arange(256, dtype=np.uint8)
for _a, _b in (("l", "1"), ("1", "l"), ("O", "0"), ("0", "O")):
    _LUT[ord(_a)] = ord(_b)
_SUBST_MASK = np.zeros(256, dtype=bool)
_SUBST_MASK[[ord(c) for c in "l1O0"]] = True


def _finish(texts: list[str], rate: float, rng: np.random.Generator) -> list[str]:
    """Apply OCR-like noise outside protected spans (all texts in one vectorised pass); the span markers stay
    (``_spans`` reads and removes them)."""
    if rate <= 0 or not texts:
        return list(texts)
    a = np.frombuffer("\x03".join(texts).encode("ascii"), dtype=np.uint8)
    mark = (a == 1) | (a == 2)
    depth = np.cumsum((a == 1).astype(np.int32) - (a == 2).astype(np.int32))
    prot = (depth > 0) | mark | (a == 3)  # \x03 separates texts and is never touched
    prev_p = np.concatenate([[True], prot[:-1]])
    next_p = np.concatenate([prot[1:], [True]])
    nxt = np.concatenate([a[1:], [0]])
    hit = (rng.random(len(a)) < rate) & ~prot
    res = a.copy()
    sub = hit & _SUBST_MASK[a]
    res[sub] = _LUT[a[sub]]
    contract = hit & (a == ord("r")) & (nxt == ord("n")) & ~next_p  # rn -> m
    res[contract] = ord("m")
    drop = hit & (a == ord(" ")) & ~prev_p & ~next_p  # dropped spaces, never next to a gold span
    drop[1:] |= contract[:-1]
    expand = np.flatnonzero(hit & (a == ord("m")))  # m -> rn
    res[expand] = ord("r")
    res = np.insert(res, expand + 1, ord("n"))
    drop = np.insert(drop, expand + 1, False)
    return res[~drop].tobytes().decode("ascii").split("\x03")
