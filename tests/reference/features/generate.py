#!/usr/bin/env python3
"""Reference eFEL feature values on voltage traces made with NEURON.

One job: simulate a set of traces chosen to exercise every eFEL feature emsweep computes (no spikes,
one spike, regular firing, bursts, adaptation, depolarisation block, sag, rebound, a dendritic
back-propagating AP, a calcium concentration trace, spikes outside the stimulus window, short and
long windows, a variable-step trace), then ask eFEL for every feature on every trace under several
settings and write traces and values to JSON.

Traces come from two kinds of cells:
  * emsweep's own single- and two-compartment models with NEURON's built-in `hh` and `pas`
    (written to `traces.json`, emsweep's own data);
  * the cells of the real EModelRunner sample packages (SSCx cADpyr_L4UPC and thalamus dNAD_ltb),
    built by EModelRunner and driven by IClamps here (written to `packages/*.json`, CC-BY-NC-SA 4.0
    like the packages they derive from).

Every simulation runs in its own Python process (NEURON can load one set of compiled mechanisms per
process); eFEL runs in the parent, which never imports NEURON.

Usage (from the repository root; the packages come from scripts/bootstrap.sh):
    .cache/venv/bin/python tests/reference/features/generate.py            # write everything
    .cache/venv/bin/python tests/reference/features/generate.py --check    # regenerate, compare
"""

import argparse
import importlib.metadata
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/features/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/features/generate.py"

# The eFEL features checked, in the order of spec/FEATURES.md, then the intermediate features they
# are built from (eFEL names; index features are indices into the interpolated trace).
FEATURES = [
    "voltage_base", "AP_amplitude", "AHP_depth", "inv_first_ISI", "inv_second_ISI",
    "mean_frequency", "inv_third_ISI", "inv_fourth_ISI", "inv_fifth_ISI", "inv_last_ISI",
    "voltage_after_stim", "inv_time_to_first_spike", "time_to_last_spike", "APlast_amp",
    "maximum_voltage_from_voltagebase", "Spikecount", "AP_duration_half_width",
    "ohmic_input_resistance_vb_ssse", "burst_number", "AP1_amp", "voltage_deflection",
    "voltage_deflection_begin", "time_to_first_spike", "ISI_CV", "AP2_amp", "time_to_second_spike",
    "decay_time_constant_after_stim", "adaptation_index2", "AHP_depth_abs",
    "steady_state_voltage_stimend", "depol_block_bool", "Spikecount_stimint", "spike_count",
    "AHP_time_from_peak", "min_AHP_values", "AP_width", "AP_height", "AHP_slow_time", "doublet_ISI",
    "AHP_depth_abs_slow", "AP_amplitude_from_voltagebase", "sag_amplitude", "spike_count_stimint",
    # intermediates
    "peak_indices", "peak_time", "peak_voltage", "all_ISI_values", "ISI_values", "inv_ISI_values",
    "min_AHP_indices", "AP_begin_indices", "AP_begin_voltage", "AP_end_indices", "AP_rise_indices",
    "AP_fall_indices", "maximum_voltage", "minimum_voltage", "voltage_deflection_vb_ssse",
    "burst_ISI_indices", "burst_mean_freq", "depol_block",
]

# Settings combinations: eFEL's defaults, EModelRunner's scoring settings, BluePyEModel's finer
# interpolation, and the remaining corners of (Threshold, interp_step, strict_stiminterval).
SETTINGS = {
    "efel_default": {"Threshold": -20.0, "interp_step": 0.1, "strict_stiminterval": False},
    "emodelrunner": {"Threshold": -30.0, "interp_step": 0.1, "strict_stiminterval": True},
    "fine_strict": {"Threshold": -20.0, "interp_step": 0.025, "strict_stiminterval": True},
    "fine_loose": {"Threshold": -30.0, "interp_step": 0.025, "strict_stiminterval": False},
    # every other setting that changes the features checked, away from its default
    "other_settings": {
        "Threshold": -25.0, "interp_step": 0.05, "strict_stiminterval": True,
        "DerivativeThreshold": 15.0, "DownDerivativeThreshold": -8.0, "DerivativeWindow": 2,
        "voltage_base_start_perc": 0.5, "voltage_base_end_perc": 0.95,
        "voltage_base_mode": "median", "ignore_first_ISI": False, "sahp_start": 3.0,
        "burst_factor": 1.3, "depol_block_min_duration": 30.0, "decay_start_after_stim": 2.0,
        "decay_end_after_stim": 20.0,
    },
}

PACKAGE_CASES = {
    "sscx": {
        "package": "emodelrunner/sscx_sample_dir",
        "config": "config/config_singlestep.ini",
        "out": "packages/sscx_cADpyr_L4UPC.json",
    },
    "thalamus": {
        "package": "emodelrunner/thalamus_sample_dir",
        "config": "config/config_recipe_prots_short.ini",
        "out": "packages/thalamus_dNAD_ltb.json",
    },
}
LICENCE_PACKAGES = (
    "CC-BY-NC-SA 4.0: traces simulated from Blue Brain Project / EPFL sample packages "
    "(EModelRunner 1.2.5 wheel examples/); see tests/reference/features/packages/README.md"
)
LICENCE_OWN = "emsweep's own models (NEURON built-in hh and pas); same licence as emsweep"

DT_SIM_MS = 0.025


def sig8(x):
    """x rounded to 8 significant digits: the value stored, and the value eFEL is given."""
    return float(f"{x:.8g}")


# --------------------------------------------------------------------------------------------
# Children: simulations (NEURON only).
# --------------------------------------------------------------------------------------------


class Recorder:
    """Runs NEURON with fixed steps (or CVODE) and packs recorded vectors into trace records."""

    def __init__(self, h):
        self.h = h
        self.traces = []

    def run(self, tstop, v_init, recordings, cvode=False):
        """Simulate to tstop; return numpy arrays (t, [each recording])."""
        import numpy as np

        h = self.h
        h.cvode_active(1 if cvode else 0)
        h.dt = DT_SIM_MS
        h.secondorder = 0
        t_vec = h.Vector().record(h._ref_t)
        vecs = [h.Vector().record(ref) for ref in recordings]
        h.finitialize(v_init)
        h.continuerun(tstop)
        out = np.array(t_vec), [np.array(v) for v in vecs]
        h.cvode_active(0)
        return out

    def add(self, name, description, t, y, stim_start, stim_end, stimulus_current=None,
            keep_every=4, explicit_time=False):
        """Store a trace. Fixed-step traces keep every `keep_every`-th sample and are stored with
        t[i] = i * dt (dt = keep_every * 0.025 ms); variable-step traces keep their own times."""
        rec = {
            "name": name,
            "description": description,
            "stim_start": float(stim_start),
            "stim_end": float(stim_end),
            "stimulus_current": None if stimulus_current is None else float(stimulus_current),
        }
        if explicit_time:
            rec["t"] = [float(x) for x in t]
            rec["v"] = [sig8(x) for x in y]
        else:
            rec["dt"] = DT_SIM_MS * keep_every
            rec["v"] = [sig8(x) for x in y[::keep_every]]
        self.traces.append(rec)


def child_builtin(out_file):
    """Traces of emsweep's own hh / pas models."""
    import numpy as np
    from neuron import h

    h.load_file("stdrun.hoc")
    rec = Recorder(h)

    soma = h.Section(name="soma")
    soma.L = soma.diam = 20.0  # um; area 1256.6 um2
    soma.insert("hh")
    v_soma = soma(0.5)._ref_v

    def clamp(delay, dur, amp):
        c = h.IClamp(soma(0.5))
        c.delay, c.dur, c.amp = delay, dur, amp
        return c

    def step(name, description, amp, start, end, tstop, keep_every=4, window=None, v_init=-65.0,
             extra=()):
        c = clamp(start, end - start, amp)
        t, (v,) = rec.run(tstop, v_init, [v_soma])
        ws, we = window if window is not None else (start, end)
        rec.add(name, description, t, v, ws, we, stimulus_current=amp, keep_every=keep_every)
        del c

    step("hh_rest", "hh soma, no current: flat trace, no spike", 0.0, 100, 600, 800)
    step("hh_subthreshold", "hh soma, 0.02 nA step: depolarisation without spike", 0.02, 100, 600, 800)
    step("hh_single_spike", "hh soma, 0.05 nA step: exactly one spike at onset", 0.05, 100, 600, 800)
    step("hh_regular", "hh soma, 0.1 nA step: regular firing", 0.1, 200, 1200, 1500)
    step("hh_strong", "hh soma, 0.4 nA step: fast regular firing", 0.4, 200, 700, 900)
    step("hh_depol_block", "hh soma, 1.5 nA step: two spikes then depolarisation block", 1.5, 100,
         600, 800)
    step("hh_block_one_spike", "hh soma, 3 nA step: one spike then block at about -39 mV", 3.0, 100,
         400, 600)
    step("hh_hyper_rebound", "hh soma, -0.1 nA step: anode-break spike after the window", -0.1, 100,
         600, 800)
    step("hh_hyper_weak", "hh soma, -0.03 nA step: hyperpolarisation, no spike", -0.03, 100, 600, 800)
    step("hh_fine_dt", "hh soma, 0.2 nA step stored at 0.025 ms", 0.2, 50, 250, 300, keep_every=1)
    step("hh_coarse_dt", "hh soma, 0.2 nA step stored at 0.2 ms (coarser than interp_step)", 0.2,
         100, 500, 600, keep_every=8)
    step("hh_long", "hh soma, 0.15 nA step of 2 s (long window), stored at 0.2 ms", 0.15, 500, 2500,
         3000, keep_every=8)
    step("hh_spikes_after_window", "hh soma, 0.1 nA from 100 to 900 ms, window 100-500 ms", 0.1, 100,
         900, 1000, window=(100, 500))
    step("hh_window_beyond_end", "hh soma, 0.1 nA from 100 ms, window ends after the trace", 0.1, 100,
         400, 400, window=(100, 450))
    step("hh_window_after_trace", "hh soma, 0.1 nA from 100 ms; the window (400-500 ms) starts "
         "after the trace ends", 0.1, 100, 300, 300, window=(400, 500))
    step("hh_stim_at_zero", "hh soma, 0.1 nA from t = 0 (window starts at 0)", 0.1, 0, 300, 400)
    step("hh_start_depolarised", "hh soma from v_init = 0 mV (trace starts above threshold), 0.1 nA",
         0.1, 100, 400, 500, v_init=0.0)
    step("hh_ends_in_spike", "hh soma, 0.1 nA: the trace ends during a spike", 0.1, 100, 400, 403.5)

    # brief pulses: APWaveform / SpikeRec-like short windows and a bAP-like window to the end
    step("hh_short_window", "hh soma, 1 nA for 3 ms: one spike, 3 ms window", 1.0, 100, 103, 200,
         keep_every=1)
    step("hh_window_to_end", "hh soma, 1 nA for 3 ms at 100 ms, window to the end of the trace",
         1.0, 100, 103, 400, window=(100, 400))

    # a spike before the window, then firing inside it
    pre = clamp(50, 2, 0.5)
    step("hh_spike_before_window", "hh soma: a pulse spike at 50 ms, then 0.1 nA from 200 to 700 ms",
         0.1, 200, 700, 900)
    del pre

    # doublet at onset: two brief strong pulses on top of a step
    pre = [clamp(100, 1, 2.0), clamp(105, 1, 2.0)]
    step("hh_doublet", "hh soma: 2 nA pulses of 1 ms at 100 and 105 ms on top of 0.1 nA from 100 ms"
         " (onset doublet, then regular firing)", 0.1, 100, 600, 700)
    del pre

    # bursts: trains of 4 pulses at 250 Hz every 100 ms inside a 100-900 ms window
    pulses = []
    for burst in range(7):
        for k in range(4):
            pulses.append(clamp(120 + 100 * burst + 4 * k, 1.0, 1.2))
    t, (v,) = rec.run(1000, -65.0, [v_soma])
    rec.add("hh_pulse_bursts", "hh soma: 7 trains of 4 pulses (1 ms, 1.2 nA, 250 Hz) every 100 ms",
            t, v, 100, 900, keep_every=2)
    del pulses

    # played currents: adaptation (decaying current), ramp, noise
    def played(name, description, tvals, ivals, tstop, window, keep_every=4):
        c = clamp(0, 1e9, 0.0)
        tv = h.Vector(tvals)
        iv = h.Vector(ivals)
        iv.play(c._ref_amp, tv, 1)
        t, (v,) = rec.run(tstop, -65.0, [v_soma])
        rec.add(name, description, t, v, window[0], window[1], keep_every=keep_every)
        iv.play_remove()
        del c

    tt = np.arange(0.0, 1500.0 + 0.5, 0.5)
    amp = np.where((tt >= 200) & (tt < 1200), 0.08 + 0.5 * np.exp(-(tt - 200) / 150.0), 0.0)
    played("hh_adapting", "hh soma: current decaying from 0.58 to 0.08 nA (tau 150 ms), 200-1200 ms",
           tt, amp, 1500, (200, 1200))
    amp = np.where((tt >= 100) & (tt < 1100), 0.3 * (tt - 100) / 1000.0, 0.0)
    played("hh_ramp", "hh soma: ramp from 0 to 0.3 nA over 100-1100 ms", tt, amp, 1300, (100, 1100))
    rng = np.random.default_rng(20240607)
    tn = np.arange(0.0, 1500.0 + 1.0, 1.0)
    noise = 0.09 + 0.25 * rng.standard_normal(tn.size)
    amp = np.where((tn >= 200) & (tn < 1300), noise, 0.0)
    played("hh_noise", "hh soma: noisy current (mean 0.09 nA, sd 0.25 nA, 1 ms samples, seeded)",
           tn, amp, 1500, (200, 1300))

    # variable time step (CVODE): times kept as NEURON produced them
    c = clamp(100, 500, 0.1)
    t, (v,) = rec.run(700, -65.0, [v_soma], cvode=True)
    rec.add("hh_cvode", "hh soma, 0.1 nA step, CVODE variable steps (non-uniform times)", t, v, 100,
            600, stimulus_current=0.1, explicit_time=True)
    del c

    # soma + passive dendrite: back-propagating AP recorded in the dendrite (window to the end)
    dend = h.Section(name="dend")
    dend.L, dend.diam, dend.nseg = 1000.0, 1.0, 101
    dend.insert("pas")
    dend.g_pas, dend.e_pas = 5e-4, -65.0
    dend.connect(soma(1))
    c = clamp(100, 2, 2.0)
    t, (vs, vd1, vd2) = rec.run(250, -65.0, [v_soma, dend(0.1)._ref_v, dend(0.25)._ref_v])
    rec.add("hh_dend_bap_soma", "soma of hh soma + passive dendrite, 2 nA for 2 ms (bAP window)", t,
            vs, 100, 250, keep_every=2)
    rec.add("hh_dend_bap_100um", "dendrite at 100 um: attenuated back-propagating AP", t, vd1, 100,
            250, keep_every=2)
    rec.add("hh_dend_bap_250um", "dendrite at 250 um: bAP peaking between -30 and -20 mV", t, vd2,
            100, 250, keep_every=2)
    del c

    write_child(out_file, rec.traces)


def child_package(case_name, out_file):
    """Traces of a real package cell (cwd is the package root)."""
    from bluepyopt import ephys
    from emodelrunner.create_cells import create_cell_using_config
    from emodelrunner.load import get_release_params, load_config
    from neuron import h

    case = PACKAGE_CASES[case_name]
    config = load_config(config_path=case["config"])
    cell = create_cell_using_config(config)
    cell.freeze(get_release_params(config))
    sim = ephys.simulators.NrnSimulator(dt=DT_SIM_MS, cvode_active=False)
    cell.instantiate(sim=sim)
    h.celsius = config.getfloat("Cell", "celsius")
    v_init = config.getfloat("Cell", "v_init")
    icell = cell.icell
    soma = icell.soma[0]
    rec = Recorder(h)

    def clamp(delay, dur, amp):
        c = h.IClamp(soma(0.5))
        c.delay, c.dur, c.amp = delay, dur, amp
        return c

    if case_name == "sscx":
        holding = clamp(0, 1e9, -0.0896244038173676)  # the package's holding current (allsteps.json)

        def step(name, description, amp, start, end, tstop, keep_every=4, window=None):
            c = clamp(start, end - start, amp)
            t, (v,) = rec.run(tstop, v_init, [soma(0.5)._ref_v])
            ws, we = window if window is not None else (start, end)
            rec.add(name, description, t, v, ws, we, stimulus_current=amp, keep_every=keep_every)
            del c

        step("sscx_step_low", "SSCx soma, 0.25 nA step of 2 s on the holding current", 0.25, 700,
             2700, 3000)
        step("sscx_step_high", "SSCx soma, 0.45 nA step of 2 s on the holding current", 0.45, 700,
             2700, 3000)
        step("sscx_hyper_sag", "SSCx soma, -0.4 nA step of 1 s: Ih sag", -0.4, 700, 1700, 1900)
        step("sscx_rin", "SSCx soma, -0.035 nA step of 1 s (Rin protocol)", -0.035, 700, 1700, 1900)
        step("sscx_apwaveform", "SSCx soma, 1.2 nA for 50 ms (APWaveform-like), stored at 0.05 ms",
             1.2, 700, 750, 755, keep_every=2)
        step("sscx_spikerec", "SSCx soma, 3 nA for 4 ms (SpikeRec-like), 4 ms window", 3.0, 700, 704,
             740, keep_every=2)

        # bAP: 3 ms pulse; soma v, apical dendrite v at about 200 um, soma cai; window to the end
        apical = [sec for sec in icell.apical]
        soma_centre = soma(0.5)
        best = None
        for sec in apical:
            for seg in sec:
                d = h.distance(soma_centre, seg)
                if best is None or abs(d - 208.0) < best[0]:
                    best = (abs(d - 208.0), seg)
        dend_seg = best[1]
        c = clamp(700, 3.0, 3.0)
        t, (vs, vd, cai) = rec.run(
            1000, v_init, [soma(0.5)._ref_v, dend_seg._ref_v, soma(0.5)._ref_cai])
        rec.add("sscx_bap_soma", "SSCx bAP: 3 nA for 3 ms, soma v, window 700 ms to the end", t, vs,
                700, 1000, keep_every=2)
        rec.add("sscx_bap_dend", "SSCx bAP: apical dendrite v about 208 um from the soma", t, vd, 700,
                1000, keep_every=2)
        rec.add("sscx_bap_cai", "SSCx bAP: soma cai [mM] (a concentration trace)", t, cai, 700, 1000,
                keep_every=2)
        del c, holding
    elif case_name == "thalamus":
        def step(name, description, amp, start, end, tstop, holding_amp, keep_every=2):
            hold = clamp(0, 1e9, holding_amp)
            c = clamp(start, end - start, amp)
            t, (v,) = rec.run(tstop, v_init, [soma(0.5)._ref_v])
            rec.add(name, description, t, v, start, end, stimulus_current=amp, keep_every=keep_every)
            del c, hold

        step("thal_rebound_burst", "thalamus soma, -0.3 nA for 200 ms: rebound low-threshold burst",
             -0.3, 50, 250, 450, 0.0)
        step("thal_depol_burst", "thalamus soma, hyperpolarised by -0.1 nA, +0.5 nA step: burst then"
             " tonic firing", 0.5, 100, 400, 500, -0.1)
        step("thal_tonic", "thalamus soma, +0.4 nA step from rest: tonic firing", 0.4, 50, 350, 400,
             0.0)
    else:
        raise ValueError(case_name)

    write_child(out_file, rec.traces)


def write_child(out_file, traces):
    Path(out_file).write_text(json.dumps(traces))


# --------------------------------------------------------------------------------------------
# Parent: compile, simulate (children), extract features with eFEL, write.
# --------------------------------------------------------------------------------------------


def venv_tool(name):
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"generate.py: {name} not found next to {sys.executable} nor on PATH")
    return found


def compile_mechanisms(mod_dir, work_dir):
    """Compile the top-level .mod files of mod_dir in work_dir (never subfolders)."""
    src = work_dir / "mod"
    src.mkdir(parents=True)
    for mod in sorted(p for p in mod_dir.glob("*.mod") if p.is_file()):
        shutil.copy2(mod, src / mod.name)
    result = subprocess.run([venv_tool("nrnivmodl"), "mod"], cwd=work_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        sys.exit(f"generate.py: nrnivmodl failed in {work_dir}")
    return work_dir


def run_child(args, cwd):
    cmd = [sys.executable, str(Path(__file__).resolve())] + args
    subprocess.run(cmd, cwd=cwd, check=True)


def simulate(kind, packages, tmp):
    """Run one child and return its traces."""
    out_file = Path(tmp) / f"{kind}.traces.json"
    if kind == "builtin":
        scratch = Path(tmp) / "scratch-builtin"
        scratch.mkdir()
        run_child(["--child", "builtin", "--child-out", str(out_file)], scratch)
    else:
        case = PACKAGE_CASES[kind]
        pkg = packages / case["package"]
        work = Path(tmp) / f"mech-{kind}"
        work.mkdir()
        compile_mechanisms(pkg / "mechanisms", work)
        # EModelRunner resolves paths against the package root, so that is the child's cwd; the
        # mechanisms compiled in `work` are loaded explicitly.
        run_child(["--child", kind, "--child-out", str(out_file), "--child-mechanisms", str(work)],
                  pkg)
    return json.loads(out_file.read_text())


def encode(values):
    """eFEL's answer as JSON: null for no value, a list of numbers otherwise (integers for eFEL's
    integer features, non-finite numbers as the strings "nan", "inf", "-inf")."""
    if values is None:
        return None
    import numpy as np

    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.integer):
        return [int(x) for x in arr]
    out = []
    for x in arr.astype(float):
        x = float(x)
        if math.isnan(x):
            out.append("nan")
        elif math.isinf(x):
            out.append("inf" if x > 0 else "-inf")
        else:
            out.append(x)
    return out


def trace_time(trace):
    if "t" in trace:
        return list(trace["t"])
    return [i * trace["dt"] for i in range(len(trace["v"]))]


def extract(trace):
    """Every feature under every settings combination, each feature from a fresh eFEL state."""
    import efel

    efel_trace = {
        "T": trace_time(trace),
        "V": list(trace["v"]),
        "stim_start": [trace["stim_start"]],
        "stim_end": [trace["stim_end"]],
    }
    result = {}
    for sname, settings in SETTINGS.items():
        values = {}
        for feature in FEATURES:
            efel.reset()
            for key, val in settings.items():
                efel.set_setting(key, val)
            if trace["stimulus_current"] is not None:
                efel.set_setting("stimulus_current", trace["stimulus_current"])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = efel.get_feature_values([efel_trace], [feature], raise_warnings=False)
                values[feature] = encode(out[0][feature])
            except Exception as exc:  # eFEL raised: recorded, our code must give no value
                values[feature] = {"error": type(exc).__name__}
        result[sname] = values
    efel.reset()
    return result


def versions():
    out = {"python": platform.python_version()}
    for dist in ["efel", "neuron", "EModelRunner", "bluepyopt", "numpy"]:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def document(traces, licence, source):
    return {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": versions(),
            "source": source,
            "licence": licence,
            "simulation": "NEURON fixed step dt 0.025 ms (secondorder 0) unless a trace says CVODE",
            "efel_call": "efel.reset(); efel.set_setting(k, v) for each settings entry (and "
                         "stimulus_current when the trace has one); "
                         "efel.get_feature_values([trace], [feature], raise_warnings=False), "
                         "one call per feature",
        },
        "settings": SETTINGS,
        "features": FEATURES,
        "traces": traces,
    }


def dump(doc):
    """JSON with one trace per line: readable diffs, compact numbers (shortest round-trip repr)."""
    head = {k: v for k, v in doc.items() if k != "traces"}
    lines = ["{"]
    for key, val in head.items():
        lines.append(f"{json.dumps(key)}: {json.dumps(val)},")
    lines.append('"traces": [')
    for i, trace in enumerate(doc["traces"]):
        sep = "," if i + 1 < len(doc["traces"]) else ""
        lines.append(json.dumps(trace, separators=(",", ":")) + sep)
    lines.append("]}")
    return "\n".join(lines) + "\n"


def outputs(packages, tmp, which):
    """{relative path: document text} for the selected sources."""
    docs = {}
    for kind in which:
        traces = simulate(kind, packages, tmp)
        for trace in traces:
            trace["efel"] = extract(trace)
            print(f"generate.py: {kind}: {trace['name']}: {len(trace['v'])} samples", flush=True)
        if kind == "builtin":
            docs["traces.json"] = dump(document(traces, LICENCE_OWN, "NEURON built-in hh and pas"))
        else:
            case = PACKAGE_CASES[kind]
            docs[case["out"]] = dump(document(
                traces, LICENCE_PACKAGES, f"{case['package']} ({case['config']}), built by "
                "emodelrunner.create_cells.create_cell_using_config, frozen with "
                "get_release_params, instantiated with bluepyopt NrnSimulator(dt=0.025, "
                "cvode_active=False); IClamps at soma[0](0.5) added here"))
    return docs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packages", type=Path, default=REPO / ".cache" / "packages")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--only", action="append", choices=["builtin", *PACKAGE_CASES])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with the committed files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-mechanisms", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child_mechanisms:
            import neuron
            if not neuron.load_mechanisms(args.child_mechanisms):
                raise RuntimeError(f"could not load mechanisms from {args.child_mechanisms}")
        if args.child == "builtin":
            child_builtin(args.child_out)
        else:
            child_package(args.child, args.child_out)
        return 0

    which = args.only or ["builtin", *PACKAGE_CASES]
    packages = args.packages.resolve()
    with tempfile.TemporaryDirectory(prefix="features-refgen-") as tmp:
        docs = outputs(packages, tmp, which)
    if args.check:
        failed = False
        for rel, text in docs.items():
            committed = HERE / rel
            old = json.loads(committed.read_text()) if committed.exists() else None
            new = json.loads(text)
            if old is not None:
                old["provenance"]["versions"].pop("python", None)
            new["provenance"]["versions"].pop("python", None)
            if old != new:
                failed = True
                print(f"check: {rel}: DIFFERS from the committed file")
            else:
                print(f"check: {rel}: identical")
        return 1 if failed else 0
    for rel, text in docs.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"generate.py: wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
