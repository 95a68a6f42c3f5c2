"""Fusion passes over the generated program: chains of whole-array NumPy statements become one kernel call.

egglog's program generator writes one NumPy statement per array operation (``_7 = X[_0]``,
``_8 = np.sum(_7, axis=0)``, ``_9 = _8 / np.array(_7.shape[0])``). Each statement is a full pass over its operand
and most allocate a temporary of the data's size; Numba compiles them one by one, and its whole-array broadcasts are
slower than NumPy's. These passes find such chains in the statement list and replace them by a call to a fused
kernel of :mod:`waxegg.egg.kernels` whose Python body *is* the removed NumPy (so the extracted program computes the
same numbers) and whose Numba version is one parallel loop nest.

A chain is rewritten only when every intermediate it removes is used nowhere else (counted over the whole body and
the returned expression) and no input of the chain is updated in place (``name[...] = ...``) between the chain's
first and last statement, because the kernel reads its inputs where the chain ended.

=====================  ==========================================================================================
rewrite                statements -> call
=====================  ==========================================================================================
``fuse_masked``        ``S = np.sum(X[M], axis=0)``; ``R = S / np.array(X[M].shape[0])`` -> ``_k.masked_mean(X, M)``
                       and ``np.concatenate((X[M0] - r0, X[M1] - r1, ...), axis=0)`` ->
                       ``_k.masked_concat_sub(X, (M0, M1, ...), (r0, r1, ...))`` (``X[M]`` inline or named by
                       ``share_masked``); selections left unused are dropped: no masked copies remain
``fuse_moments``       ``np.sum(A, axis=0) / np.array(A.shape[0])`` -> ``_k.mean0(A)``, and the
                       expand_dims / subtract / square / sum / divide chain of a lowered ``std`` ->
                       ``_k.mean_sq_dev(A, m)``
``fuse_scale_svd``     ``B = A / s``; ``C = c * B``; ``_k.svd_s_vt(C)`` -> ``_k.svd_s_vt_scaled(A, s, c)``: the scaled
                       matrix is written straight into the column-major buffer LAPACK's QR overwrites
``fuse_sub_matmul``    ``D = X - v``; ``D @ W`` -> ``_k.sub_matmul(X, v, W)``: centre-and-project, no centred copy
``fuse_shared_svd``    ``A = _k.svd_s_vt(P)`` beside ``B = np.linalg.svd(P, full_matrices=False)`` -> one SVD,
                       ``B = np.linalg.svd(P, ...)`` where ``A`` was and ``A = (B[1], B[2], )``: LAPACK's
                       ``S`` / ``Vt`` are the same numbers either way (Ridge's ``svd`` solver needs ``U``)
``fuse_passes``        reductions and element-wise chains over the data, each one parallel pass (no temporaries):
                       ``np.sum(np.square(P - m), axis=0)`` and ``np.sum(P - m, axis=0)`` ->
                       ``_k.dev_sums(P, m)``; ``np.sum(np.abs(P), axis=1)`` / ``np.sum(P * P, axis=1)`` /
                       ``reduce_max(np.abs(P), 1)`` / ``reduce_max(np.abs(P), 0)`` -> ``_k.row_abs_sum(P)`` /
                       ``_k.row_sumsq(P)`` / ``_k.row_max_abs(P)`` / ``_k.max_abs0(P)``; column and row sums of
                       one array -> ``_k.col_row_sums(P)``, its column max and min -> ``_k.max_min0(P)``, other
                       column sums -> ``_k.sum0(P)``; ``(P - m) / s`` -> ``_k.sub_div(P, m, s)``,
                       ``P * s + c`` -> ``_k.mul_add(P, s, c)``, ``((P - c) - r[:, None,]) + g`` ->
                       ``_k.center2(P, c, r, g)``, ``P / r[:, None,]`` -> ``_k.div_rows(P, r)``, for an input
                       ``P``, ``P / s`` -> ``_k.div_cols(P, s)``; ``P @ W - v @ W`` -> ``_k.matmul_sub(P, W, v)``
                       (PCA's centred projection), ``P.T @ P`` -> ``_k.gram(P)``, and what is left of an input
                       ``P - m`` -> ``_k.sub_cols(P, m)``
``fuse_checks``        the input assertions ``np.all(np.isfinite(X))`` -> ``_k.all_finite(X)`` and
                       ``set(np.unique(y)) == set(values)`` -> ``_k.same_value_set(y, values)`` (no sort)
``fuse_setitem``       in-place updates ``A[i, :,] = v`` -> ``_k.set_row(A, i, v)`` and ``A[M] = c`` (``c`` a
                       constant) -> ``_k.set_where(A, M, c)``: plain loops, for the cold compile (Numba's array
                       assignment compiles its broadcasting and a formatted error message, ~1-3 s per form);
                       applied last, since the other rewrites look for ``name[...] = `` updates
=====================  ==========================================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["FUSIONS", "fuse_program"]

_ASSIGN = re.compile(r"^(?P<name>_\d+) = (?P<expr>.+)$")
# An operand: a name, optionally indexed once (``_6[0, :,]``), or a NumPy constant call without nested calls.
_ATOM = r"(?:\w+(?:\[[^\[\]=]*\])?|np\.array\([^()]*\))"
_SELECTION = re.compile(r"^(?P<x>\w+)\[(?P<m>\w+)\]$")


@dataclass
class _Body:
    """The generated statements (one per line, unindented) and the returned expression."""

    lines: list[str]
    result: str

    def assignment(self, name: str) -> tuple[int, str] | None:
        """(line index, expression) of ``name = expression`` (generated names are assigned once)."""
        for k, line in enumerate(self.lines):
            match = _ASSIGN.match(line)
            if match and match["name"] == name:
                return k, match["expr"]
        return None

    def uses(self, name: str) -> int:
        """Occurrences of ``name`` outside its own assignment's left-hand side."""
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
        count = len(pattern.findall(self.result))
        for line in self.lines:
            match = _ASSIGN.match(line)
            text = match["expr"] if match and match["name"] == name else line
            count += len(pattern.findall(text))
        return count

    def updated_between(self, text: str, start: int, stop: int) -> bool:
        """Whether a name appearing in ``text`` is updated in place by a line in ``start .. stop``."""
        names = set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)", text)) - {"np", "_k"}
        for line in self.lines[start : stop + 1]:
            target = re.match(r"^(\w+)\[.*\] = ", line)
            if target and target[1] in names:
                return True
        return False

    def selection(self, operand: str) -> tuple[str, str, int | None] | None:
        """``(X, M, line)`` when ``operand`` is ``X[M]`` itself (line None) or a name assigned ``X[M]``."""
        match = _SELECTION.match(operand)
        if match:
            return match["x"], match["m"], None
        found = self.assignment(operand) if re.fullmatch(r"_\d+", operand) else None
        if found and (match := _SELECTION.match(found[1])):
            return match["x"], match["m"], found[0]
        return None

    def single_use(self, name: str, allowed: int = 1) -> bool:
        return re.fullmatch(r"_\d+", name) is not None and self.uses(name) == allowed

    def used_once_as(self, name: str, pattern: str) -> tuple[int, re.Match] | None:
        """(line, match) when ``name`` is a generated name used once and assigned an expression ``pattern`` matches."""
        found = self.assignment(name) if self.single_use(name) else None
        match = re.fullmatch(pattern, found[1]) if found else None
        return (found[0], match) if match else None

    def drop(self, indices: Iterable[int]) -> None:
        for k in sorted(set(indices), reverse=True):
            del self.lines[k]

    def drop_dead_selections(self, names: Iterable[str]) -> None:
        """Remove ``name = X[M]`` lines whose name a fusion left unused (selections have no side effects)."""
        dead = []
        for name in names:
            found = self.assignment(name)
            if found and _SELECTION.match(found[1]) and self.uses(name) == 0:
                dead.append(found[0])
        self.drop(dead)


def _earliest(*indices: int | None) -> int:
    return min(k for k in indices if k is not None)


def _fuse_masked(body: _Body) -> None:
    selections: set[str] = set()
    # column means of a masked selection
    k = 0
    while k < len(body.lines):
        match = _ASSIGN.match(body.lines[k])
        pattern = r"^(?P<s>_\d+) / np\.array\((?P<e>\w+(?:\[\w+\])?)\.shape\[0\]\)$"
        m = re.match(pattern, match["expr"]) if match else None
        found = body.assignment(m["s"]) if m else None
        sel = body.selection(m["e"]) if m else None
        if m and found and sel and found[1] == f"np.sum({m['e']}, axis=0)" and body.single_use(m["s"]):
            x, mask, sel_line = sel
            if not body.updated_between(f"{x} {mask}", _earliest(sel_line, found[0]), k):
                body.lines[k] = f"{match['name']} = _k.masked_mean({x}, {mask})"
                if sel_line is not None:
                    selections.add(m["e"])
                body.drop([found[0]])
                k = 0
                continue
        k += 1
    # per-class centring, stacked
    while _fuse_one_concat(body, selections):
        pass
    body.drop_dead_selections(selections)


def _fuse_one_concat(body: _Body, selections: set[str]) -> bool:
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        m = re.match(r"^np\.concatenate\(\((?P<parts>[^()]*)\), axis=0\)$", match["expr"]) if match else None
        if not m:
            continue
        parts = [p.strip() for p in m["parts"].split(",") if p.strip()]
        pieces, ok = [], bool(parts)
        for part in parts:
            found = body.assignment(part) if body.single_use(part) else None
            d = re.match(rf"^(?P<e>\w+(?:\[\w+\])?) - (?P<r>{_ATOM})$", found[1]) if found else None
            sel = body.selection(d["e"]) if d else None
            if not (found and d and sel):
                ok = False
                break
            pieces.append((found[0], d["e"], d["r"], sel))
        if not ok or len({p[3][0] for p in pieces}) != 1:
            continue
        # each row is read where its subtraction was, each selection where it was made: neither may change since
        if any(
            body.updated_between(p[2], p[0], k)
            or body.updated_between(f"{p[3][0]} {p[3][1]}", _earliest(p[0], p[3][2]), k)
            for p in pieces
        ):
            continue
        x = pieces[0][3][0]
        masks = "".join(f"{p[3][1]}, " for p in pieces)
        rows = "".join(f"{p[2]}, " for p in pieces)
        body.lines[k] = f"{match['name']} = _k.masked_concat_sub({x}, ({masks}), ({rows}))"
        selections.update(p[1] for p in pieces if p[3][2] is not None)
        body.drop(p[0] for p in pieces)
        return True
    return False


def _fuse_moments(body: _Body) -> None:
    changed = True
    while changed:
        changed = False
        for k, line in enumerate(body.lines):
            match = _ASSIGN.match(line)
            m = re.match(r"^(?P<s>_\d+) / np\.array\((?P<a>_\d+|\w+)\.shape\[0\]\)$", match["expr"]) if match else None
            if not m or not body.single_use(m["s"]):
                continue
            found = body.assignment(m["s"])
            if found is None:
                continue
            a = m["a"]
            # uses of the squared deviations and of the deviations the chain removes: the row count is read off
            # the squares (egglog), or off the deviations (same shape: waxegg's shape rules put
            # `np.square(d).shape` and `d.shape` in one e-class, and extraction may pick either)
            squares_uses, deviations_uses = 2, 1
            summed = re.match(r"^np\.sum\((?P<a>_\d+), axis=0\)$", found[1])
            if summed and summed["a"] != a:
                squared = body.assignment(summed["a"])
                if squared is not None and squared[1] == f"np.square({a})":
                    a, squares_uses, deviations_uses = summed["a"], 1, 2
            if found[1] == f"np.sum({a}, axis=0)":
                # the variance chain ends the same way, with `a` the squared deviations: try it first
                sq = body.assignment(a) if body.single_use(a, squares_uses) else None
                sq_m = re.match(r"^np\.square\((?P<d>_\d+)\)$", sq[1]) if sq else None
                dev = body.assignment(sq_m["d"]) if sq_m and body.single_use(sq_m["d"], deviations_uses) else None
                dev_m = re.match(r"^(?P<a>\w+) - (?P<e>_\d+)$", dev[1]) if dev else None
                exp = body.assignment(dev_m["e"]) if dev_m and body.single_use(dev_m["e"]) else None
                exp_m = re.match(r"^np\.expand_dims\((?P<m>\w+), 0\)$", exp[1]) if exp else None
                if sq and dev and exp and exp_m and not body.updated_between(f"{dev_m['a']} {exp_m['m']}", exp[0], k):
                    body.lines[k] = f"{match['name']} = _k.mean_sq_dev({dev_m['a']}, {exp_m['m']})"
                    body.drop([found[0], sq[0], dev[0], exp[0]])
                    changed = True
                    break
                if not body.updated_between(a, found[0], k):
                    body.lines[k] = f"{match['name']} = _k.mean0({a})"
                    body.drop([found[0]])
                    changed = True
                    break


def _fuse_scale_svd(body: _Body) -> None:
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        m = re.match(r"^_k\.svd_s_vt\((?P<c>_\d+)\)$", match["expr"]) if match else None
        scaled = body.assignment(m["c"]) if m and body.single_use(m["c"]) else None
        sm = re.match(rf"^(?P<c>{_ATOM}) \* (?P<b>_\d+)$", scaled[1]) if scaled else None
        div = body.assignment(sm["b"]) if sm and body.single_use(sm["b"]) else None
        dm = re.match(rf"^(?P<a>\w+) / (?P<s>{_ATOM})$", div[1]) if div else None
        if not dm or body.updated_between(f"{dm['a']} {dm['s']} {sm['c']}", div[0], k):
            continue
        body.lines[k] = f"{match['name']} = _k.svd_s_vt_scaled({dm['a']}, {dm['s']}, {sm['c']})"
        body.drop([scaled[0], div[0]])
        _fuse_scale_svd(body)
        return


def _fuse_sub_matmul(body: _Body) -> None:
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        m = re.match(rf"^(?P<d>_\d+) @ (?P<w>{_ATOM})$", match["expr"]) if match else None
        sub = body.assignment(m["d"]) if m and body.single_use(m["d"]) else None
        sm = re.match(rf"^(?P<x>\w+) - (?P<v>{_ATOM})$", sub[1]) if sub else None
        if not sm or body.updated_between(f"{sm['x']} {sm['v']} {m['w']}", sub[0], k):
            continue
        body.lines[k] = f"{match['name']} = _k.sub_matmul({sm['x']}, {sm['v']}, {m['w']})"
        body.drop([sub[0]])
        _fuse_sub_matmul(body)
        return


def _fuse_checks(body: _Body) -> None:
    for k, line in enumerate(body.lines):
        line = re.sub(r"^assert np\.all\(np\.isfinite\((\w+)\)\)$", r"assert _k.all_finite(\1)", line)
        line = re.sub(r"^assert set\(np\.unique\((\w+)\)\) == set\((\([^()]*\))\)$", r"assert _k.same_value_set(\1, \2)", line)
        body.lines[k] = line


_SET_ROW = re.compile(r"^(?P<a>\w+)\[(?P<i>\w+), :,\] = (?P<v>\w+)$")
_SET_WHERE = re.compile(r"^(?P<a>\w+)\[(?P<m>_\d+)\] = (?P<c>np\.array\((?:float|int|bool)?\(?-?[\w.]+\)?\)|-?[\d.]+)$")


def _fuse_setitem(body: _Body) -> None:
    for k, line in enumerate(body.lines):
        if m := _SET_ROW.match(line):
            body.lines[k] = f"_k.set_row({m['a']}, {m['i']}, {m['v']})"
        elif m := _SET_WHERE.match(line):
            body.lines[k] = f"_k.set_where({m['a']}, {m['m']}, {m['c']})"


def _fresh(body: _Body) -> str:
    """A name the body does not use (``_t0``, ``_t1``, ...), for a kernel's tuple of results."""
    text = "\n".join([*body.lines, body.result])
    k = 0
    while re.search(rf"(?<![\w.])_t{k}\b", text):
        k += 1
    return f"_t{k}"


def _fuse_shared_svd(body: _Body) -> None:
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        m = re.match(r"^_k\.svd_s_vt\((?P<a>\w+)\)$", match["expr"]) if match else None
        if not m:
            continue
        full_expr = f"np.linalg.svd({m['a']}, full_matrices=False)"
        full = next((j for j, other in enumerate(body.lines) if (o := _ASSIGN.match(other)) and o["expr"] == full_expr), None)
        if full is None or body.updated_between(m["a"], min(k, full), max(k, full)):
            continue
        name = _ASSIGN.match(body.lines[full])["name"]
        pair = f"{match['name']} = ({name}[1], {name}[2], )"
        if full < k:
            body.lines[k] = pair
        else:  # the full SVD moves up to where S and Vt were first needed
            body.lines[full : full + 1] = []
            body.lines[k : k + 1] = [f"{name} = {full_expr}", pair]
        _fuse_shared_svd(body)
        return


def _row_vector(body: _Body, v: str) -> str:
    """``w`` when ``v`` is ``np.expand_dims(w, 0)`` (``P - v`` and ``P - w`` broadcast alike), else ``v``."""
    found = body.assignment(v) if re.fullmatch(r"_\d+", v) else None
    m = re.fullmatch(r"np\.expand_dims\((?P<w>\w+), 0\)", found[1]) if found else None
    return m["w"] if m else v


def _dev_sums(body: _Body) -> bool:
    """``np.sum(np.square(D), axis=0)`` (and ``np.sum(D, axis=0)``) of ``D = P - m`` -> ``_k.dev_sums(P, m)``."""
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        m = re.match(r"^np\.sum\((?P<q>_\d+), axis=0\)$", match["expr"]) if match else None
        sq = body.assignment(m["q"]) if m and body.single_use(m["q"]) else None
        sm = re.match(r"^np\.square\((?P<d>_\d+)\)$", sq[1]) if sq else None
        dev = body.assignment(sm["d"]) if sm else None
        dm = re.match(rf"^(?P<p>\w+) - (?P<v>{_ATOM})$", dev[1]) if dev else None
        if not dm:
            continue
        d = sm["d"]
        plain = next((j for j, other in enumerate(body.lines) if re.fullmatch(rf"_\d+ = np\.sum\({d}, axis=0\)", other)), None)
        last = k if plain is None else max(k, plain)
        row = _row_vector(body, dm["v"])  # (a view: its base's updates count too)
        if body.updated_between(f"{dm['p']} {dm['v']} {d} {row}", dev[0], last):
            continue
        call = f"_k.dev_sums({dm['p']}, {row})"
        if plain is None:
            body.lines[k] = f"{match['name']} = {call}[0]"
        else:
            t = _fresh(body)
            body.lines[k] = f"{match['name']} = {t}[0]"
            body.lines[plain] = f"{_ASSIGN.match(body.lines[plain])['name']} = {t}[1]"
            body.lines.insert(min(k, plain), f"{t} = {call}")
        dropped = [body.assignment(m["q"])[0]]
        if body.uses(d) == 1:  # only the square's line, now dropped, read the deviations
            dropped.append(body.assignment(d)[0])
        body.drop(dropped)
        return True
    return False


# (reduction of a temporary q, what q is, the kernel that reads q's operand p instead)
_ROW_CHAINS = (
    (r"np\.sum\((?P<q>_\d+), axis=1\)", r"np\.abs\((?P<p>\w+)\)", "_k.row_abs_sum({p})"),
    (r"_k\.reduce_max\((?P<q>_\d+), 1\)", r"np\.abs\((?P<p>\w+)\)", "_k.row_max_abs({p})"),
    (r"_k\.reduce_max\((?P<q>_\d+), 0\)", r"np\.abs\((?P<p>\w+)\)", "_k.max_abs0({p})"),
    (r"np\.sum\((?P<q>_\d+), axis=1\)", r"(?P<p>\w+) \* (?P=p)", "_k.row_sumsq({p})"),
)


def _single_pass_reductions(body: _Body) -> bool:
    """A reduction of ``|P|`` or ``P * P`` (a temporary used once) -> a kernel reading ``P`` itself."""
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        for outer, inner, call in _ROW_CHAINS if match else ():
            q = re.fullmatch(outer, match["expr"])
            found = body.assignment(q["q"]) if q and body.single_use(q["q"]) else None
            pm = re.fullmatch(inner, found[1]) if found else None
            if pm and not body.updated_between(pm["p"], found[0], k):
                body.lines[k] = f"{match['name']} = {call.format(p=pm['p'])}"
                body.drop([found[0]])
                return True
    return False


# (first reduction of p, the second, the kernel computing both in one pass)
_PAIRS = (
    (r"np\.sum\((?P<p>\w+), axis=0\)", "np.sum({p}, axis=1)", "_k.col_row_sums({p})"),
    (r"_k\.reduce_max\((?P<p>\w+), 0\)", "_k.reduce_min({p}, 0)", "_k.max_min0({p})"),
)


def _paired_reductions(body: _Body) -> bool:
    """Two reductions of one array (column and row sums; column max and min) -> one kernel, one pass."""
    exprs = {m["expr"]: k for k, line in enumerate(body.lines) if (m := _ASSIGN.match(line))}
    for first, second, call in _PAIRS:
        for expr, k in exprs.items():
            pm = re.fullmatch(first, expr)
            j = exprs.get(second.format(p=pm["p"])) if pm else None
            if j is None or body.updated_between(pm["p"], min(k, j), max(k, j)):
                continue
            t = _fresh(body)
            body.lines[k] = f"{_ASSIGN.match(body.lines[k])['name']} = {t}[0]"
            body.lines[j] = f"{_ASSIGN.match(body.lines[j])['name']} = {t}[1]"
            body.lines.insert(min(k, j), f"{t} = {call.format(p=pm['p'])}")
            return True
    return False


def _element_wise(body: _Body) -> bool:
    """The last statement of an element-wise chain over the data -> one kernel writing the result directly."""
    for k, line in enumerate(body.lines):
        match = _ASSIGN.match(line)
        if not match:
            continue
        expr = match["expr"]

        temp = body.used_once_as

        # the kernel call, and the (line, operands) the removed statements read, which must not change before k
        new, early = None, []
        if m := re.fullmatch(r"(?P<d>_\d+) / (?P<s>\w+)", expr):
            if (sub := temp(m["d"], rf"(?P<p>\w+) - (?P<v>{_ATOM})")) is not None:
                early = [(sub[0], f"{sub[1]['p']} {sub[1]['v']}")]
                new = f"_k.sub_div({sub[1]['p']}, {sub[1]['v']}, {m['s']})"
        if new is None and (m := re.fullmatch(rf"(?P<e>_\d+) \+ (?P<g>{_ATOM})", expr)):
            outer = temp(m["e"], r"(?P<f>_\d+) - (?P<r>_\d+)\[:, None,\]")
            inner = temp(outer[1]["f"], rf"(?P<p>\w+) - (?P<c>{_ATOM})") if outer else None
            prod = temp(m["e"], rf"(?P<p>\w+) \* (?P<s>{_ATOM})")
            if inner:
                early = [(inner[0], f"{inner[1]['p']} {inner[1]['c']}"), (outer[0], outer[1]["r"])]
                new = f"_k.center2({inner[1]['p']}, {inner[1]['c']}, {outer[1]['r']}, {m['g']})"
            elif prod:
                early = [(prod[0], f"{prod[1]['p']} {prod[1]['s']}")]
                new = f"_k.mul_add({prod[1]['p']}, {prod[1]['s']}, {m['g']})"
        if new is None and (m := re.fullmatch(r"(?P<a>_\d+) - (?P<b>_\d+)", expr)):
            left = temp(m["a"], rf"(?P<p>\w+) @ (?P<w>{_ATOM}(?:\.T)?)")
            right = temp(m["b"], rf"(?P<v>\w+) @ (?P<w>{_ATOM}(?:\.T)?)")
            if left and right and left[1]["w"] == right[1]["w"]:
                w = left[1]["w"]
                early = [(left[0], f"{left[1]['p']} {w}"), (right[0], f"{right[1]['v']} {w}")]
                new = f"_k.matmul_sub({left[1]['p']}, {w}, {right[1]['v']})"
        if new is None and (m := re.fullmatch(r"(?P<p>\w+) / (?P<r>_\d+)\[:, None,\]", expr)):
            new = f"_k.div_rows({m['p']}, {m['r']})"
        if new is None and (m := re.fullmatch(r"(?P<p>(?!_\d+\b)[A-Za-z_]\w*) / (?P<s>_\d+)", expr)):
            new = f"_k.div_cols({m['p']}, {m['s']})"  # an input divided by a vector (the overload checks the types)
        if new is None or any(body.updated_between(names, start, k) for start, names in early):
            continue
        body.lines[k] = f"{match['name']} = {new}"
        body.drop(start for start, _ in early)
        return True
    return False


def _fuse_passes(body: _Body) -> None:
    for step in (_dev_sums, _single_pass_reductions, _paired_reductions):
        while step(body):
            pass
    for k, line in enumerate(body.lines):  # the column sums left, and Gram matrices
        line = re.sub(r"^(_\d+) = np\.sum\((\w+), axis=0\)$", r"\1 = _k.sum0(\2)", line)
        body.lines[k] = re.sub(r"^(_\d+) = (\w+)\.T @ \2$", r"\1 = _k.gram(\2)", line)
    while _element_wise(body):
        pass
    # an input minus a vector, once no chain above wants the difference as its start
    for k, line in enumerate(body.lines):
        body.lines[k] = re.sub(r"^(_\d+) = ((?!_\d+\b)[A-Za-z_]\w*) - (_\d+)$", r"\1 = _k.sub_cols(\2, \3)", line)


# Applied in this order (masked means before plain means, so a selection's mean becomes a masked one; the LDA's
# chains before the general passes).
FUSIONS: dict[str, Callable[[_Body], None]] = {
    "fuse_masked": _fuse_masked,
    "fuse_moments": _fuse_moments,
    "fuse_scale_svd": _fuse_scale_svd,
    "fuse_sub_matmul": _fuse_sub_matmul,
    "fuse_shared_svd": _fuse_shared_svd,
    "fuse_passes": _fuse_passes,
    "fuse_checks": _fuse_checks,
    "fuse_setitem": _fuse_setitem,
}


def fuse_program(statements: str, result: str, rewrites: Iterable[str]) -> tuple[str, str]:
    """Apply the enabled ``fuse_*`` rewrites to a generated body; returns (statements, result)."""
    body = _Body(statements.splitlines(), result)
    for name, fusion in FUSIONS.items():
        if name in rewrites:
            fusion(body)
    return "\n".join(body.lines) + ("\n" if body.lines else ""), body.result
