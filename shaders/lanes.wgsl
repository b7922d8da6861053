// Whole-lane phases of the schedule on the device, one thread per lane: the membrane potential
// at finitialize, the current and conductance accumulators, the ion mechanisms (concentrations
// reset, Nernst potentials, ion currents cleared), the lane check and the recording. The CPU
// twins are in kernels-cpu/src/device.rs (same f32 operations in the same order).
//
// Every per-node array interleaves the lanes: node i of lane k is at i * params.lanes + k.
// The ion values of species s are four such arrays, one after the other, in `ions`:
// erev (var 0) [mV], inside (1) and outside (2) concentrations [mM], current (3) [mA/cm2]; array
// (s * 4 + var) starts at (s * 4 + var) * nodes * lanes.

struct LaneParams {
    nodes: u32,
    lanes: u32,
    // probes of the recording
    probes: u32,
    // the failure bound [mV]: a lane whose |v| exceeds it (or whose v is NaN) fails
    bound: f32,
}

// Per time slot (dynamic offset): the time of the phase and where its outputs go.
struct Step {
    // [ms], rounded from the host's f64 clock
    t: f32,
    // the time slot within the submission
    slot: u32,
    // the step number (0: finitialize), stored with a failure
    step: u32,
    // the sample within the submission's recording buffer
    record: u32,
}

// Per operation (dynamic offset).
struct Op {
    // ion species
    species: u32,
    // a node list in `lists`: lists[start .. start + len]
    start: u32,
    len: u32,
    pad0: u32,
    // concentrations to set [mM] (set_concentrations)
    inside: f32,
    outside: f32,
    // valence of the species (nernst)
    valence: f32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: LaneParams;
// membrane potential [mV]
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
// membrane currents summed (the cable's right-hand side after negation) [row units]
@group(0) @binding(2) var<storage, read_write> acc_i: array<f32>;
// membrane conductances summed (the cable's diagonal) [row units]
@group(0) @binding(3) var<storage, read_write> acc_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> ions: array<f32>;
// v_init [mV] of each lane, then ktf/valence [mV] of each species and lane (s * lanes + lane)
@group(0) @binding(5) var<storage, read> lane_values: array<f32>;
// node lists and probe lists
@group(0) @binding(6) var<storage, read> lists: array<u32>;
// per lane 4 words: failure step + 1 (0: none), node, v (f32 bits), unused; then the recording,
// f32 bits: sample r, probe p, lane k at 4 * lanes + (r * probes + p) * lanes + k
@group(0) @binding(7) var<storage, read_write> out: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(2) @binding(0) var<uniform> op: Op;

fn ion_index(species: u32, var_: u32, node: u32, lane: u32) -> u32 {
    return ((species * 4u + var_) * params.nodes + node) * params.lanes + lane;
}

// v = v_init at every node.
@compute @workgroup_size(64)
fn set_voltage(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    let v0 = lane_values[lane];
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        v[i * params.lanes + lane] = v0;
    }
}

// Current and conductance accumulators to zero.
@compute @workgroup_size(64)
fn clear_matrix(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        acc_i[i * params.lanes + lane] = 0.0f;
        acc_g[i * params.lanes + lane] = 0.0f;
    }
}

// The right-hand side of the cable from the summed currents: rhs = -sum(i).
@compute @workgroup_size(64)
fn negate_currents(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        let k = i * params.lanes + lane;
        acc_i[k] = -acc_i[k];
    }
}

// Concentrations of species op.species set at the listed nodes (ion_init of a state ion).
@compute @workgroup_size(64)
fn set_concentrations(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    for (var j = 0u; j < op.len; j = j + 1u) {
        let node = lists[op.start + j];
        ions[ion_index(op.species, 1u, node, lane)] = op.inside;
        ions[ion_index(op.species, 2u, node, lane)] = op.outside;
    }
}

// NEURON's nrn_nernst at the listed nodes: erev from the concentrations.
@compute @workgroup_size(64)
fn nernst(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    let coef = lane_values[params.lanes + op.species * params.lanes + lane];
    for (var j = 0u; j < op.len; j = j + 1u) {
        let node = lists[op.start + j];
        let ci = ions[ion_index(op.species, 1u, node, lane)];
        let co = ions[ion_index(op.species, 2u, node, lane)];
        var e = 0.0f;
        if (op.valence == 0.0f) {
            e = 0.0f;
        } else if (ci <= 0.0f) {
            e = 1e6f;
        } else if (co <= 0.0f) {
            e = -1e6f;
        } else {
            e = coef * log(co / ci);
        }
        ions[ion_index(op.species, 0u, node, lane)] = e;
    }
}

// The total current of species op.species to zero at every node (ion_cur's first act).
@compute @workgroup_size(64)
fn clear_ion_current(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        ions[ion_index(op.species, 3u, i, lane)] = 0.0f;
    }
}

// A lane not failed yet fails at the first node (in node order) whose v is NaN or beyond the
// bound.
@compute @workgroup_size(64)
fn check_lanes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    if (out[lane * 4u] != 0u) {
        return;
    }
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        let x = v[i * params.lanes + lane];
        // written so that NaN fails too
        if (!(x <= params.bound && x >= -params.bound)) {
            out[lane * 4u] = step.step + 1u;
            out[lane * 4u + 1u] = i;
            out[lane * 4u + 2u] = bitcast<u32>(x);
            return;
        }
    }
}

// Probe p (lists[op.start + 2p] = what: 0 for v, 1 + s * 4 + var for an ion value;
// lists[op.start + 2p + 1] = node) into sample step.record.
@compute @workgroup_size(64)
fn record(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    for (var p = 0u; p < params.probes; p = p + 1u) {
        let what = lists[op.start + 2u * p];
        let node = lists[op.start + 2u * p + 1u];
        var x = 0.0f;
        if (what == 0u) {
            x = v[node * params.lanes + lane];
        } else {
            x = ions[((what - 1u) * params.nodes + node) * params.lanes + lane];
        }
        out[4u * params.lanes + (step.record * params.probes + p) * params.lanes + lane] =
            bitcast<u32>(x);
    }
}
