"""The standard set, one closed bar at a time, in pure Python (no TA-Lib, no NumPy).

`standard_kernel(params)` returns `step(high, low, close) -> tuple` of the twelve standard values
(the order of `STANDARD_COLUMNS`, NaN during warm-up). The definitions are those of
`engine.indicators.numpy_backend`, and so is the arithmetic, operation for operation, so every value
equals the batch value bit for bit.

Why a closure: the state lives in closure cells, the fastest variables CPython has outside a
function's own locals; the first bars (warm-up: seeding sums) go through a general path and every
later bar through a straight-line one. Memory is O(bb_period): a ring of the last closes and of the
running Bollinger sums; nothing grows with the number of bars.
"""

from __future__ import annotations

from collections.abc import Callable
from math import sqrt

from engine.indicators.numpy_backend import BB_EPOCH, DI_SUM_EPSILON, FADE_FLOOR, ewm_factor
from engine.indicators.params import IndicatorParams

NAN = float("nan")
Step = Callable[[float, float, float], tuple[float, ...]]


def standard_kernel(p: IndicatorParams) -> Step:
    kf, ks = ewm_factor(2.0 / (p.ema_fast + 1)), ewm_factor(2.0 / (p.ema_slow + 1))
    kmf, kms = ewm_factor(2.0 / (p.macd_fast + 1)), ewm_factor(2.0 / (p.macd_slow + 1))
    kg = ewm_factor(2.0 / (p.macd_signal + 1))
    wr, wa, wd = ewm_factor(1.0 / p.rsi_period), ewm_factor(1.0 / p.atr_period), ewm_factor(1.0 / p.adx_period)
    nf, ns, nmf, nms, ng = p.ema_fast, p.ema_slow, p.macd_fast, p.macd_slow, p.macd_signal
    rp, ap, dp, bp, nbdev = p.rsi_period, p.atr_period, p.adx_period, p.bb_period, p.bb_std
    share_slow = nms == ns
    share_fast = nmf == nf  # MACD's fast EMA = ema_fast + offset * fade, fade *= rm (see numpy_backend)
    share_tr = dp == ap  # ADX's smoothed TR = atr + offset * fade, fade *= rt
    rm, rt = 1.0 - kmf, 1.0 - wd
    i_sig, i_adx = nms - 1 + ng - 1, 2 * dp - 1
    hot_from = p.warmup + 1
    eps_lo, eps_hi = -DI_SUM_EPSILON, DI_SUM_EPSILON

    t = 0
    pc = ph = pl = NAN
    ef = es = mf = ms = sig = sf = ss = smf = sms = ssig = 0.0
    g = lo = sg = sl = atr = sa = 0.0
    ep = em = etr = sep = sem = setr = adx = sdx = 0.0
    ring = [0.0] * bp
    post1 = [0.0] * bp
    post2 = [0.0] * bp
    pos = 0
    left = 0
    anchor = cum1 = cum2 = 0.0
    fade_m = fade_t = off_m = off_t = 0.0
    out_ef = out_es = out_rsi = out_adx = out_atr = NAN

    def bands(c: float) -> tuple[float, float, float, float]:
        """Bollinger values for the bar whose close was just written at ring[pos]."""
        nonlocal left, anchor, cum1, cum2
        if left == 0:  # new epoch: re-anchor and rebuild the prefix sums over the window
            left = BB_EPOCH
            anchor = c
            cum1 = cum2 = 0.0
            j = pos
            for _ in range(bp):
                j = j + 1 if j + 1 < bp else 0
                d = ring[j] - anchor
                cum1 += d
                cum2 += d * d
                post1[j] = cum1
                post2[j] = cum2
            s1 = cum1 - 0.0
            s2 = cum2 - 0.0
        else:
            d = c - anchor
            old1 = post1[pos]
            old2 = post2[pos]
            cum1 += d
            cum2 += d * d
            post1[pos] = cum1
            post2[pos] = cum2
            s1 = cum1 - old1
            s2 = cum2 - old2
        left -= 1
        m1 = s1 / bp
        var = s2 / bp - m1 * m1
        shift = (sqrt(var) if var > 0.0 else 0.0) * nbdev
        mid = anchor + m1
        up = mid + shift
        down = mid - shift
        return up, mid, down, (up - down) / mid

    def warm(h: float, l: float, c: float) -> tuple[float, ...]:
        nonlocal t, pc, ph, pl, ef, es, mf, ms, sig, sf, ss, smf, sms, ssig, g, lo, sg, sl, atr, sa
        nonlocal ep, em, etr, sep, sem, setr, adx, sdx, pos, out_ef, out_es, out_rsi, out_adx, out_atr
        nonlocal fade_m, fade_t, off_m, off_t
        macd = signal = hist = NAN
        if t < nf:
            sf += c
            if t == nf - 1:
                ef = out_ef = sf / nf
        else:
            ef += (c - ef) * kf
            out_ef = ef
        if t < ns:
            ss += c
            if t == ns - 1:
                es = out_es = ss / ns
        else:
            es += (c - es) * ks
            out_es = es
        if t >= nms - nmf:
            if t < nms:
                smf += c
                if t == nms - 1:
                    mf = smf / nmf
                    if share_fast:
                        off_m, fade_m = mf - ef, 1.0
                        mf = ef + off_m * fade_m
            elif share_fast:
                if fade_m:
                    fade_m *= rm
                    if fade_m < FADE_FLOOR:
                        fade_m = 0.0
                    mf = ef + off_m * fade_m
                else:
                    mf = ef
            else:
                mf += (c - mf) * kmf
        if not share_slow:
            if t < nms:
                sms += c
                if t == nms - 1:
                    ms = sms / nms
            else:
                ms += (c - ms) * kms
        if t >= nms - 1:
            line = mf - (es if share_slow else ms)
            if t < i_sig:
                ssig += line
            elif t == i_sig:
                ssig += line
                sig = ssig / ng
            else:
                sig += (line - sig) * kg
            if t >= i_sig:
                macd, signal, hist = line, sig, line - sig
        if t > 0:
            d = c - pc
            gain = d if d > 0.0 else 0.0
            loss = gain - d
            tr = (h if h > pc else pc) - (l if l < pc else pc)
            up = h - ph
            down = pl - l
            plus = up if (up > down and up > 0.0) else 0.0
            minus = down if (down > up and down > 0.0) else 0.0
            if t <= rp:
                sg += gain
                sl += loss
                if t == rp:
                    g = sg / rp
                    lo = sl / rp
            else:
                g += (gain - g) * wr
                lo += (loss - lo) * wr
            if t >= rp:
                total = g + lo
                out_rsi = (g / total) * 100.0 if total > 0.0 else 0.0
            if t <= ap:
                sa += tr
                if t == ap:
                    atr = out_atr = sa / ap
            else:
                atr += (tr - atr) * wa
                out_atr = atr
            if t < dp:
                sep += plus
                sem += minus
                setr += tr
            else:
                ep += (plus - ep) * wd
                em += (minus - em) * wd
                if not share_tr:
                    etr += (tr - etr) * wd
                elif t == dp:
                    off_t, fade_t = (etr + (tr - etr) * wd) - atr, 1.0
                    etr = atr + off_t * fade_t
                elif fade_t:
                    fade_t *= rt
                    if fade_t < FADE_FLOOR:
                        fade_t = 0.0
                    etr = atr + off_t * fade_t
                else:
                    etr = atr
                if etr > 0.0:
                    dip = (ep / etr) * 100.0
                    dim = (em / etr) * 100.0
                    total = dip + dim
                    if not eps_lo < total < eps_hi:
                        dx = dip - dim
                        dx = ((-dx if dx < 0.0 else dx) / total) * 100.0
                        if t <= i_adx:
                            sdx += dx
                        else:
                            adx += (dx - adx) * wd
                if t == i_adx:
                    adx = sdx / dp
                if t >= i_adx:
                    out_adx = adx
        if t == dp - 1:
            ep, em, etr = sep / dp, sem / dp, setr / dp
        ring[pos] = c
        bb = bands(c) if t >= bp - 1 else (NAN, NAN, NAN, NAN)
        pos = pos + 1 if pos + 1 < bp else 0
        pc, ph, pl = c, h, l
        t += 1
        return (out_ef, out_es, out_rsi, macd, signal, hist, *bb, out_adx, out_atr)

    def step(h: float, l: float, c: float) -> tuple[float, ...]:
        nonlocal pc, ph, pl, ef, es, mf, ms, sig, g, lo, atr, ep, em, etr, adx, pos, left, cum1, cum2
        nonlocal fade_m, fade_t
        if t < hot_from:
            return warm(h, l, c)
        ef += (c - ef) * kf
        es += (c - es) * ks
        if not share_fast:
            mf += (c - mf) * kmf
        elif fade_m:
            fade_m *= rm
            if fade_m < FADE_FLOOR:
                fade_m = 0.0
            mf = ef + off_m * fade_m
        else:
            mf = ef
        if share_slow:
            line = mf - es
        else:
            ms += (c - ms) * kms
            line = mf - ms
        sig += (line - sig) * kg
        d = c - pc
        if d > 0.0:
            g += (d - g) * wr
            lo += (0.0 - lo) * wr
        else:
            g += (0.0 - g) * wr
            lo += ((0.0 - d) - lo) * wr
        total = g + lo
        rsi = (g / total) * 100.0 if total > 0.0 else 0.0
        tr = (h if h > pc else pc) - (l if l < pc else pc)
        atr += (tr - atr) * wa
        up = h - ph
        down = pl - l
        if up > down and up > 0.0:
            ep += (up - ep) * wd
            em += (0.0 - em) * wd
        elif down > up and down > 0.0:
            ep += (0.0 - ep) * wd
            em += (down - em) * wd
        else:
            ep += (0.0 - ep) * wd
            em += (0.0 - em) * wd
        if not share_tr:
            etr += (tr - etr) * wd
        elif fade_t:
            fade_t *= rt
            if fade_t < FADE_FLOOR:
                fade_t = 0.0
            etr = atr + off_t * fade_t
        else:
            etr = atr
        if etr > 0.0:
            dip = (ep / etr) * 100.0
            dim = (em / etr) * 100.0
            total = dip + dim
            if not eps_lo < total < eps_hi:
                dx = dip - dim
                adx += ((((-dx if dx < 0.0 else dx) / total) * 100.0) - adx) * wd
        ring[pos] = c
        if left == 0:  # re-anchor through the general path (once per BB_EPOCH bars)
            up, mid, down, width = bands(c)
        else:  # bands() inlined: same operations
            left -= 1
            d = c - anchor
            old1 = post1[pos]
            old2 = post2[pos]
            cum1 += d
            cum2 += d * d
            post1[pos] = cum1
            post2[pos] = cum2
            m1 = (cum1 - old1) / bp
            var = (cum2 - old2) / bp - m1 * m1
            shift = (sqrt(var) if var > 0.0 else 0.0) * nbdev
            mid = anchor + m1
            up = mid + shift
            down = mid - shift
            width = (up - down) / mid
        pos = pos + 1 if pos + 1 < bp else 0
        pc, ph, pl = c, h, l
        return (ef, es, rsi, line, sig, line - sig, up, mid, down, width, adx, atr)

    return step
