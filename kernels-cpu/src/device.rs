//! CPU twins of the GPU backend's hand-written shaders (`shaders/lanes.wgsl`,
//! `shaders/gather.wgsl`, `shaders/electrodes.wgsl`, `shaders/spikes.wgsl`): the same f32
//! operations in the same order
//! over the same buffers, so that tests can run a shader and its twin on random inputs and
//! compare. Each function documents the entry point it twins; buffers are the shaders' bindings
//! (words where the shader reads `u32`s).
//!
//! Layouts: node arrays interleave the lanes (`node · lanes + lane`); the ion values of species
//! `s` are four node arrays (erev, inside, outside, current) at `(s · 4 + var) · nodes · lanes`.

/// The sizes every lane shader sees (`LaneParams`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneShape {
    pub nodes: usize,
    pub lanes: usize,
}

impl LaneShape {
    fn ion(&self, species: usize, var: usize, node: usize, lane: usize) -> usize {
        ((species * 4 + var) * self.nodes + node) * self.lanes + lane
    }
}

/// `set_voltage`: `v = v_init[lane]` at every node.
pub fn set_voltage(s: LaneShape, v_init: &[f32], v: &mut [f32]) {
    for lane in 0..s.lanes {
        for i in 0..s.nodes {
            v[i * s.lanes + lane] = v_init[lane];
        }
    }
}

/// `clear_matrix`: both accumulators to zero.
pub fn clear_matrix(acc_i: &mut [f32], acc_g: &mut [f32]) {
    acc_i.iter_mut().for_each(|x| *x = 0.0);
    acc_g.iter_mut().for_each(|x| *x = 0.0);
}

/// `negate_currents`: `rhs = −Σi`.
pub fn negate_currents(acc_i: &mut [f32]) {
    acc_i.iter_mut().for_each(|x| *x = -*x);
}

/// `set_concentrations`: inside and outside concentrations of `species` at the listed nodes.
pub fn set_concentrations(
    s: LaneShape,
    species: usize,
    nodes: &[u32],
    inside_mm: f32,
    outside_mm: f32,
    ions: &mut [f32],
) {
    for lane in 0..s.lanes {
        for &n in nodes {
            ions[s.ion(species, 1, n as usize, lane)] = inside_mm;
            ions[s.ion(species, 2, n as usize, lane)] = outside_mm;
        }
    }
}

/// `nernst`: NEURON's `nrn_nernst` at the listed nodes, `coef_mv[lane]` = ktf / valence.
/// `ln` is the one place where the twin and the device may differ (WGSL's `log` is accurate
/// to a few ulp, not correctly rounded).
pub fn nernst(
    s: LaneShape,
    species: usize,
    nodes: &[u32],
    valence: f32,
    coef_mv: &[f32],
    ions: &mut [f32],
) {
    for lane in 0..s.lanes {
        let coef = coef_mv[lane];
        for &n in nodes {
            let n = n as usize;
            let ci = ions[s.ion(species, 1, n, lane)];
            let co = ions[s.ion(species, 2, n, lane)];
            let e = if valence == 0.0 {
                0.0
            } else if ci <= 0.0 {
                1e6
            } else if co <= 0.0 {
                -1e6
            } else {
                coef * (co / ci).ln()
            };
            ions[s.ion(species, 0, n, lane)] = e;
        }
    }
}

/// `clear_ion_current`: the current of `species` to zero at every node.
pub fn clear_ion_current(s: LaneShape, species: usize, ions: &mut [f32]) {
    for lane in 0..s.lanes {
        for i in 0..s.nodes {
            ions[s.ion(species, 3, i, lane)] = 0.0;
        }
    }
}

/// `check_lanes`: a lane whose word `out[4·lane]` is 0 fails at step `step` at the first node
/// whose `v` is NaN or beyond `bound_mv` (`out[4·lane ..]` = step + 1, node, v bits).
pub fn check_lanes(s: LaneShape, v: &[f32], bound_mv: f32, step: u32, out: &mut [u32]) {
    for lane in 0..s.lanes {
        if out[lane * 4] != 0 {
            continue;
        }
        for i in 0..s.nodes {
            let x = v[i * s.lanes + lane];
            if !(x <= bound_mv && x >= -bound_mv) {
                out[lane * 4] = step + 1;
                out[lane * 4 + 1] = i as u32;
                out[lane * 4 + 2] = x.to_bits();
                break;
            }
        }
    }
}

/// `record`: probe `p` (`probes[2p]` = 0 for v or 1 + s·4 + var, `probes[2p + 1]` = node) into
/// sample `record` of `out` (f32 bits from word `4 · lanes`).
pub fn record(
    s: LaneShape,
    probes: &[u32],
    v: &[f32],
    ions: &[f32],
    record: usize,
    out: &mut [u32],
) {
    let n_probes = probes.len() / 2;
    for lane in 0..s.lanes {
        for p in 0..n_probes {
            let (what, node) = (probes[2 * p] as usize, probes[2 * p + 1] as usize);
            let x = if what == 0 {
                v[node * s.lanes + lane]
            } else {
                ions[((what - 1) * s.nodes + node) * s.lanes + lane]
            };
            out[4 * s.lanes + (record * n_probes + p) * s.lanes + lane] = x.to_bits();
        }
    }
}

/// The node arrays `gather` and `scatter` move values between.
pub struct NodeArrays<'a> {
    pub v: &'a mut [f32],
    pub acc_i: &'a mut [f32],
    pub acc_g: &'a mut [f32],
    pub ions: &'a mut [f32],
}

/// One column block of a mechanism (`Op` of `shaders/gather.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockShape {
    pub lanes: usize,
    pub nodes: usize,
    pub first_instance: usize,
    /// Elements of the block.
    pub count: usize,
    /// Distance between its columns [elements].
    pub stride: usize,
}

/// `gather`: for element `e` of the block, each plan pair (column, source) copies the value at
/// the instance's node (`instance_nodes[instance]`) into `data[column · stride + e]`; source 0
/// v, 1 the current accumulator, 2 the conductance accumulator, 3 the time `t_ms`, 4 + s·4 + var
/// an ion value.
pub fn gather(
    b: BlockShape,
    instance_nodes: &[u32],
    plan: &[u32],
    t_ms: f32,
    nodes: &NodeArrays,
    data: &mut [f32],
) {
    let per_array = b.nodes * b.lanes;
    for e in 0..b.count {
        let k = instance_nodes[b.first_instance + e / b.lanes] as usize * b.lanes + e % b.lanes;
        for pair in plan.chunks_exact(2) {
            let (c, src) = (pair[0] as usize, pair[1] as usize);
            let x = match src {
                0 => nodes.v[k],
                1 => nodes.acc_i[k],
                2 => nodes.acc_g[k],
                3 => t_ms,
                _ => nodes.ions[(src - 4) * per_array + k],
            };
            data[c * b.stride + e] = x;
        }
    }
}

/// `scatter`: the inverse of [`gather`] for written columns (source 3, the time, is never a
/// destination and is skipped).
pub fn scatter(
    b: BlockShape,
    instance_nodes: &[u32],
    plan: &[u32],
    data: &[f32],
    nodes: &mut NodeArrays,
) {
    let per_array = b.nodes * b.lanes;
    for e in 0..b.count {
        let k = instance_nodes[b.first_instance + e / b.lanes] as usize * b.lanes + e % b.lanes;
        for pair in plan.chunks_exact(2) {
            let (c, dst) = (pair[0] as usize, pair[1] as usize);
            let x = data[c * b.stride + e];
            match dst {
                0 => nodes.v[k] = x,
                1 => nodes.acc_i[k] = x,
                2 => nodes.acc_g[k] = x,
                3 => {}
                _ => nodes.ions[(dst - 4) * per_array + k] = x,
            }
        }
    }
}

/// The tables of `shaders/electrodes.wgsl` (see [`electrodes`]).
pub struct ElectrodeTables<'a> {
    pub lanes: usize,
    /// Clamps of all programs (the stride of `positions`).
    pub clamps: usize,
    /// Per lane: electrode node (`u32::MAX`: none), first entry, entry count, unused.
    pub lane_info: &'a [u32],
    /// Per entry: clamp g, offset of its amplitudes in `values`.
    pub entries: &'a [u32],
    pub values: &'a [f32],
    /// Per time slot and clamp: mode, k, theta bits, unused.
    pub positions: &'a [u32],
}

/// `electrodes`: for each lane with an electrode, each of its entries at the time slot
/// `slot`'s position (mode 0 off, 1 fixed, 2 value k, 3 between k−1 and k at theta, 4 the mean
/// of k−1 and k); a nonzero amplitude is subtracted from the current accumulator.
pub fn electrodes(t: &ElectrodeTables, slot: usize, acc_i: &mut [f32]) {
    let (lanes, values, positions) = (t.lanes, t.values, t.positions);
    for lane in 0..lanes {
        let node = t.lane_info[lane * 4];
        if node == u32::MAX {
            continue;
        }
        let k = node as usize * lanes + lane;
        let first = t.lane_info[lane * 4 + 1] as usize;
        let n = t.lane_info[lane * 4 + 2] as usize;
        for j in first..first + n {
            let g = t.entries[2 * j] as usize;
            let off = t.entries[2 * j + 1] as usize;
            let p = (slot * t.clamps + g) * 4;
            let at = positions[p + 1] as usize;
            let amp = match positions[p] {
                1 => values[off],
                2 => values[off + at],
                3 => {
                    let (x0, x1) = (values[off + at - 1], values[off + at]);
                    x0 + (x1 - x0) * f32::from_bits(positions[p + 2])
                }
                4 => (values[off + at - 1] + values[off + at]) / 2.0,
                _ => 0.0,
            };
            if amp != 0.0 {
                acc_i[k] -= amp;
            }
        }
    }
}

/// The sizes of `shaders/spikes.wgsl`'s buffer: `lanes` lanes of `capacity` records each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpikeShape {
    pub lanes: usize,
    pub capacity: usize,
}

impl SpikeShape {
    /// Words of the device buffer: per lane the previous voltage and the count, then per lane
    /// and kept spike its step, then per lane and kept spike the two voltages around it.
    pub fn words(&self) -> usize {
        self.lanes * (2 + 3 * self.capacity)
    }
}

/// The spike detector's state, in the regions of `shaders/spikes.wgsl`'s buffer: `prev[lane]`
/// (the voltage at the previous step), `count[lane]` (crossings so far, kept or not),
/// `steps[lane · capacity + k]` and `volts[2 (lane · capacity + k) ..]` (step and the voltages
/// at steps `step − 1` and `step` of kept spike `k`).
pub struct SpikeBuffers<'a, R> {
    pub prev: &'a mut [R],
    pub count: &'a mut [u32],
    pub steps: &'a mut [u32],
    pub volts: &'a mut [R],
}

/// The f32 threshold the device compares with: the smallest f32 not below `threshold_mv`. For an
/// f32 `x`, `x >= t` and `x < t` then hold exactly when `x as f64 >= threshold_mv` and
/// `(x as f64) < threshold_mv` do, so the device finds the crossings an f64 comparison of the
/// recorded trace finds.
pub fn spike_threshold_f32(threshold_mv: f64) -> f32 {
    let t = threshold_mv as f32;
    if f64::from(t) >= threshold_mv || t.is_nan() {
        t
    } else {
        t.next_up()
    }
}

/// `detect_spikes`: for every lane not failed (`failed(lane)` false), at step `step` with the
/// voltage `v_at_node[lane]` at the detector's node: if `step > 0`, `prev < threshold` and
/// `v >= threshold` (compared in f64, which for f32 values is what the device's comparisons with
/// [`spike_threshold_f32`] give), the crossing is counted and, while fewer than `capacity` are
/// kept, kept; then `prev = v`. Failed lanes are left alone.
pub fn detect_spikes<R: crate::Real>(
    s: SpikeShape,
    v_at_node: &[R],
    failed: impl Fn(usize) -> bool,
    threshold_mv: f64,
    step: u32,
    b: &mut SpikeBuffers<R>,
) {
    for (lane, &x) in v_at_node[..s.lanes].iter().enumerate() {
        if failed(lane) {
            continue;
        }
        let prev = b.prev[lane];
        if step > 0 && prev.to_f64() < threshold_mv && x.to_f64() >= threshold_mv {
            let k = b.count[lane] as usize;
            if k < s.capacity {
                let r = lane * s.capacity + k;
                b.steps[r] = step;
                b.volts[2 * r] = prev;
                b.volts[2 * r + 1] = x;
            }
            b.count[lane] = b.count[lane].saturating_add(1);
        }
        b.prev[lane] = x;
    }
}
