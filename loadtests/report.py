#!/usr/bin/env python3
"""report.py RESULTS_DIR - summarise a run.sh results directory; Python 3 stdlib only.

Reads RESULTS_DIR/meta.json and RESULTS_DIR/raw/r<round>.<target>.{lat,tput,stput}.json (oha JSON),
.ttft.json (ttft.py) and .proc.json (proxy CPU ticks and RSS written by run.sh), then prints
  1. a per-round detail table (every number that went into the summary), and
  2. the summary: the median over rounds per target, gateway/nginx ratios, and PASS/FAIL for the
     targets below. Also writes RESULTS_DIR/summary.json.

Added latency = target minus direct-to-mock of the same round (same client, same mock, same
core), so the client's and the mock's own costs cancel out.

Targets (judged on the medians over rounds; need both nginx and gateway in the run for ratios):
  c=1 added p99           <= 100 us, or <= nginx's added p99 + 50 us
  throughput @ CONC        >= 0.8 x nginx
  req per proxy CPU-s      >= 0.7 x nginx          (non-streaming)
  SSE req per proxy CPU-s  >= 0.5 x nginx
  policy route added p99   <= 20 us over the plain route (a second gateway process whose config
                           adds a cost policy: plat vs pbase, same process, same round)
  idle RSS                 <= 30 MB (after start-up and after load)
  errors                   0
Exit status: 0 all judged targets pass (or nothing to judge), 3 some FAIL, 2 unusable input.
"""
import json
import math
import os
import statistics
import sys

GW, NG, DI = "gateway", "nginx", "direct"


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def oha(path):
    d = load_json(path)
    if not d or "summary" not in d:
        return None
    lp = d.get("latencyPercentiles") or {}
    codes = {str(k): v for k, v in (d.get("statusCodeDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    bad = sum(v for k, v in codes.items() if not k.startswith("2"))
    terr = sum((d.get("errorDistribution") or {}).values())
    wall = d["summary"].get("total") or float("nan")
    us = lambda k: (lp.get(k) if lp.get(k) is not None else float("nan")) * 1e6
    return {
        "ok": ok, "err": bad + terr, "wall": wall, "rps": ok / wall if wall else float("nan"),
        "p50": us("p50"), "p99": us("p99"),
        "errs": {**{f"http{k}": v for k, v in codes.items() if not k.startswith("2")},
                 **(d.get("errorDistribution") or {})},
    }


def nan():
    return float("nan")


def round_metrics(raw, r, name, clk):
    base = os.path.join(raw, f"r{r}.{name}")
    lat, tput, stput = oha(base + ".lat.json"), oha(base + ".tput.json"), oha(base + ".stput.json")
    ttft = load_json(base + ".ttft.json")
    proc = load_json(base + ".proc.json") or {}
    if lat is None and tput is None and ttft is None:
        return None
    m = {"errors": 0, "error_samples": []}
    for key, o in (("lat", lat), ("tput", tput), ("stput", stput)):
        if o is None:
            continue
        m["errors"] += o["err"]
        if o["errs"]:
            m["error_samples"].append(f"{key}: {dict(list(o['errs'].items())[:3])}")
    m["lat_p50"] = lat["p50"] if lat else nan()
    m["lat_p99"] = lat["p99"] if lat else nan()
    plat = oha(base + ".plat.json")
    if plat is not None:
        m["errors"] += plat["err"]
        if plat["errs"]:
            m["error_samples"].append(f"plat: {dict(list(plat['errs'].items())[:3])}")
    m["plat_p50"] = plat["p50"] if plat else nan()
    m["plat_p99"] = plat["p99"] if plat else nan()
    pbase = oha(base + ".pbase.json")
    if pbase is not None:
        m["errors"] += pbase["err"]
    m["policy_add_p50"] = m["plat_p50"] - (pbase["p50"] if pbase else nan())
    m["policy_add_p99"] = m["plat_p99"] - (pbase["p99"] if pbase else nan())
    prss = (load_json(base + ".policy-proc.json") or {}).get("rss_start_kb")
    m["policy_rss_mb"] = prss / 1024.0 if prss is not None else nan()
    if ttft:
        m["ttft_p50"] = ttft["ttft_us"]["p50"] if ttft.get("n") else nan()
        m["ttft_p99"] = ttft["ttft_us"]["p99"] if ttft.get("n") else nan()
        m["errors"] += ttft.get("errors", 0)
        if ttft.get("errors"):
            m["error_samples"].append(f"ttft: {ttft.get('error_samples')}")
    else:
        m["ttft_p50"] = m["ttft_p99"] = nan()
    for key, o in (("tput", tput), ("stput", stput)):
        m[f"{key}_rps"] = o["rps"] if o else nan()
        ticks = proc.get(f"{key}_cpu_ticks")
        if o and ticks is not None and name != DI:
            cpu_s = ticks / clk
            m[f"{key}_cpu_s"] = cpu_s
            m[f"{key}_per_cpu_s"] = o["ok"] / cpu_s if cpu_s > 0 else float("inf")
            m[f"{key}_util"] = 100.0 * cpu_s / o["wall"] if o["wall"] else nan()
        else:
            m[f"{key}_cpu_s"] = m[f"{key}_per_cpu_s"] = m[f"{key}_util"] = nan()
    for key in ("rss_start_kb", "rss_after_kb"):
        v = proc.get(key)
        m[key.replace("_kb", "_mb")] = v / 1024.0 if v is not None and name != DI else nan()
    return m


def med(vals):
    v = [x for x in vals if x is not None and not math.isnan(x)]
    return statistics.median(v) if v else nan()


def rng(vals):
    v = [x for x in vals if x is not None and not math.isnan(x)]
    return (min(v), max(v)) if v else (nan(), nan())


def fmt(x, spec=".0f", signed=False):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, ("+" if signed else "") + spec)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    meta = load_json(os.path.join(out, "meta.json"))
    if not meta:
        print(f"report.py: no meta.json in {out}")
        return 2
    raw = os.path.join(out, "raw")
    clk = meta.get("clk_tck", 100)
    names = [DI] + [t for t in meta["targets"]]
    rounds = int(meta["rounds"])
    conc = meta["conc"]

    per = {n: [] for n in names}  # name -> list of per-round metric dicts (with added values)
    for r in range(1, rounds + 1):
        d = round_metrics(raw, r, DI, clk)
        for n in names:
            m = d if n == DI else round_metrics(raw, r, n, clk)
            if m is None:
                continue
            m["round"] = r
            for k in ("lat_p50", "lat_p99", "ttft_p50", "ttft_p99"):
                m["add_" + k] = (m[k] - d[k]) if (d and n != DI) else nan()
            per[n].append(m)

    present = [n for n in names if per[n]]
    if DI not in present:
        print("report.py: no direct-to-mock measurements: nothing to compare against")
        return 2

    # ---------------- per-round details ----------------
    print(f"\n=== per round (DUR={meta['dur']}s, CONC={conc}; us = microseconds; "
          f"'+' = added over direct in the same round) ===")
    hdr = (f"{'rnd':>3s} {'target':8s} {'c1 p50':>7s} {'c1 p99':>7s} {'+p50':>6s} {'+p99':>6s} {'pol+99':>6s} "
           f"{'req/s':>7s} {'cpu%':>5s} {'req/cpu-s':>9s} {'ttft50':>7s} {'ttft99':>7s} {'+t50':>6s} "
           f"{'+t99':>6s} {'sse r/s':>7s} {'cpu%':>5s} {'sse/cpu-s':>9s} {'rss0MB':>6s} {'rss1MB':>6s} {'err':>4s}")
    print(hdr)
    for r in range(1, rounds + 1):
        for n in present:
            for m in per[n]:
                if m["round"] != r:
                    continue
                print(f"{r:3d} {n:8s} {fmt(m['lat_p50']):>7s} {fmt(m['lat_p99']):>7s} "
                      f"{fmt(m['add_lat_p50'], signed=True):>6s} {fmt(m['add_lat_p99'], signed=True):>6s} "
                      f"{fmt(m['policy_add_p99'], signed=True):>6s} {fmt(m['tput_rps']):>7s} {fmt(m['tput_util']):>5s} {fmt(m['tput_per_cpu_s']):>9s} "
                      f"{fmt(m['ttft_p50']):>7s} {fmt(m['ttft_p99']):>7s} "
                      f"{fmt(m['add_ttft_p50'], signed=True):>6s} {fmt(m['add_ttft_p99'], signed=True):>6s} "
                      f"{fmt(m['stput_rps']):>7s} {fmt(m['stput_util']):>5s} {fmt(m['stput_per_cpu_s']):>9s} "
                      f"{fmt(m['rss_start_mb'], '.1f'):>6s} {fmt(m['rss_after_mb'], '.1f'):>6s} {m['errors']:4d}")
                for s in m["error_samples"]:
                    print(f"      errors: {s}")

    # ---------------- summary ----------------
    agg = {}
    for n in present:
        keys = [k for k in per[n][0] if k not in ("round", "errors", "error_samples")]
        agg[n] = {k: med([m[k] for m in per[n]]) for k in keys}
        agg[n]["errors"] = sum(m["errors"] for m in per[n])
        agg[n]["rss_max_mb"] = max([m for m in (rng([x["rss_start_mb"] for x in per[n]])[1],
                                                rng([x["rss_after_mb"] for x in per[n]])[1])
                                    if not math.isnan(m)], default=nan())
        agg[n]["ranges"] = {k: rng([m[k] for m in per[n]]) for k in keys}

    g, x = agg.get(GW), agg.get(NG)
    results = []  # (label, PASS/FAIL)

    def ratio(k):
        if not g or not x:
            return nan()
        a, b = g[k], x[k]
        if math.isnan(a) or math.isnan(b) or b == 0:
            return nan()
        return a / b

    def judge_ratio(k, thr):
        if not g:
            return "", ""
        if not x:
            return f">= {thr}x nginx", "n/a"
        rt = ratio(k)
        if math.isnan(rt):
            return f">= {thr}x nginx", "FAIL"
        return f">= {thr}x nginx", "PASS" if rt >= thr else "FAIL"

    def judge_latency(k):
        if not g:
            return "", ""
        v = g[k]
        lim = 100.0
        if x and not math.isnan(x[k]):
            lim = max(lim, x[k] + 50.0)
        tgt = "<= 100 or <= nginx+50" if x else "<= 100"
        if math.isnan(v):
            return tgt, "FAIL"
        return tgt, "PASS" if v <= lim else "FAIL"

    def judge_policy():
        if not g:
            return "", ""
        v = g["policy_add_p99"]
        return "<= 20", ("PASS" if not math.isnan(v) and v <= 20.0 else "FAIL")

    def judge_rss():
        if not g:
            return "", ""
        v = g["rss_max_mb"]
        return "<= 30 (worst round)", ("PASS" if not math.isnan(v) and v <= 30.0 else "FAIL")

    rows = [
        # label, key, fmt, signed, judge
        ("c=1 latency p50 (us)", "lat_p50", ".0f", False, None),
        ("c=1 latency p99 (us)", "lat_p99", ".0f", False, None),
        ("c=1 added p50 (us)", "add_lat_p50", ".0f", True, None),
        ("c=1 added p99 (us)", "add_lat_p99", ".0f", True, lambda: judge_latency("add_lat_p99")),
        ("policy route c=1 p99 (us)", "plat_p99", ".0f", False, None),
        ("policy added p50 (us)", "policy_add_p50", ".0f", True, None),
        ("policy added p99 (us)", "policy_add_p99", ".0f", True, judge_policy),
        ("RSS with a cost policy (MB)", "policy_rss_mb", ".1f", False, None),
        (f"throughput c={conc} (req/s)", "tput_rps", ".0f", False, lambda: judge_ratio("tput_rps", 0.8)),
        ("  proxy CPU use (%)", "tput_util", ".0f", False, None),
        ("req per proxy CPU-s", "tput_per_cpu_s", ".0f", False, lambda: judge_ratio("tput_per_cpu_s", 0.7)),
        ("SSE TTFT p50 (us)", "ttft_p50", ".0f", False, None),
        ("SSE TTFT p99 (us)", "ttft_p99", ".0f", False, None),
        ("SSE TTFT added p50 (us)", "add_ttft_p50", ".0f", True, None),
        ("SSE TTFT added p99 (us)", "add_ttft_p99", ".0f", True, None),
        (f"SSE throughput c={conc} (req/s)", "stput_rps", ".0f", False, None),
        ("  proxy CPU use (%)", "stput_util", ".0f", False, None),
        ("SSE req per proxy CPU-s", "stput_per_cpu_s", ".0f", False, lambda: judge_ratio("stput_per_cpu_s", 0.5)),
        ("idle RSS after start (MB)", "rss_start_mb", ".1f", False, None),
        ("idle RSS after load (MB)", "rss_after_mb", ".1f", False, judge_rss),
        ("errors (all runs, total)", "errors", "d", False,
         lambda: ("0", "PASS" if g["errors"] == 0 else "FAIL") if g else ("", "")),
    ]
    print(f"\n=== summary: median of {len(per[DI])} round(s); ratio = gateway/nginx ===")
    cols = present
    print(f"{'metric':30s} " + " ".join(f"{c:>9s}" for c in cols) + f" {'gw/nginx':>9s}  {'target':24s} result")
    for label, k, spec, signed, judge in rows:
        vals = []
        for c in cols:
            v = agg[c].get(k, nan())
            if c == DI and k.startswith(("add_", "rss_", "tput_util", "stput_util", "tput_per", "stput_per")):
                v = nan()
            vals.append(fmt(v, spec, signed))
        rt = ratio(k) if k != "errors" else nan()
        tgt, res = judge() if judge else ("", "")
        if res:
            results.append((label.strip(), res))
        print(f"{label:30s} " + " ".join(f"{v:>9s}" for v in vals) + f" {fmt(rt, '.2f'):>9s}  {tgt:24s} {res}")

    if len(per[DI]) > 1:
        print("\nspread over rounds (min..max):")
    for label, k, spec, signed, _ in rows:
        if k == "errors" or len(per[DI]) < 2:
            continue
        parts = []
        for c in cols:
            lo, hi = agg[c]["ranges"].get(k, (nan(), nan()))
            if not math.isnan(lo):
                parts.append(f"{c} {fmt(lo, spec, signed)}..{fmt(hi, spec, signed)}")
        if parts:
            print(f"  {label.strip():28s} " + "; ".join(parts))

    if g is None and GW in meta["targets"]:
        print("\n!! gateway: no measurements (failed to start or failed preflight: see logs/)")
    if g is None:
        print("\n(no gateway in this run: PASS/FAIL needs TARGETS to include gateway)")
    fails = [l for l, res in results if res == "FAIL"]
    if results:
        print("\nverdict: " + ("PASS" if not fails else "FAIL (" + ", ".join(fails) + ")"))
    util_low = [n for n in present if n != DI and agg[n]["tput_util"] < 85]
    if util_low:
        print(f"note: proxy CPU use < 85% during the throughput run for {', '.join(util_low)}: "
              "the proxy was not the bottleneck (client+mock core saturated?), so its req/s is a lower "
              "bound and the req/s ratio is compressed; req per CPU-s is still comparable.")

    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"meta": meta, "median": {n: {k: v for k, v in agg[n].items() if k != "ranges"}
                                            for n in present},
                   "per_round": per, "results": results}, f, indent=1, default=str)
    return 3 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
