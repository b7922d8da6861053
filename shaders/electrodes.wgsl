// Electrode currents (NEURON's IClamps at t + dt/2) for every lane, one thread per lane: the
// device form of src/sim/stimulus.rs's StimulusProgram. CPU twin: kernels-cpu/src/device.rs.
//
// Where t falls among a clamp's window and breakpoints is the same for every lane and is worked
// out by the host per time slot (in f64, as the CPU backend does): positions[(slot * clamps + g)
// * 4 ..] = mode, k, theta (f32 bits), unused, with mode 0 off, 1 a fixed amplitude, 2 the value
// of breakpoint k, 3 between breakpoints k-1 and k at theta, 4 the mean of breakpoints k-1 and k.
// Amplitudes are per lane, already multiplied by the lane's nA -> row-unit factor (in f64, then
// rounded to f32). Each clamp on subtracts its current from the current accumulator, in order.

struct ElectrodeParams {
    lanes: u32,
    // clamps of all the programs of the batch
    clamps: u32,
    pad0: u32,
    pad1: u32,
}

struct Step {
    t: f32,
    slot: u32,
    step: u32,
    record: u32,
}

@group(0) @binding(0) var<uniform> params: ElectrodeParams;
// per lane 4 words: electrode node (0xffffffff: none), first entry, entries, unused
@group(0) @binding(1) var<storage, read> lane_info: array<u32>;
// per entry 2 words: the clamp g, the offset of its amplitudes in `values`
@group(0) @binding(2) var<storage, read> entries: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<storage, read_write> acc_i: array<f32>;
@group(1) @binding(0) var<uniform> step: Step;

@compute @workgroup_size(64)
fn electrodes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    let node = lane_info[lane * 4u];
    if (node == 0xffffffffu) {
        return;
    }
    let k = node * params.lanes + lane;
    let first = lane_info[lane * 4u + 1u];
    let n = lane_info[lane * 4u + 2u];
    for (var j = first; j < first + n; j = j + 1u) {
        let g = entries[2u * j];
        let off = entries[2u * j + 1u];
        let p = (step.slot * params.clamps + g) * 4u;
        let mode = positions[p];
        let at = positions[p + 1u];
        var amp = 0.0f;
        if (mode == 1u) {
            amp = values[off];
        } else if (mode == 2u) {
            amp = values[off + at];
        } else if (mode == 3u) {
            let x0 = values[off + at - 1u];
            let x1 = values[off + at];
            amp = x0 + (x1 - x0) * bitcast<f32>(positions[p + 2u]);
        } else if (mode == 4u) {
            amp = (values[off + at - 1u] + values[off + at]) / 2.0f;
        }
        if (amp != 0.0f) {
            acc_i[k] = acc_i[k] - amp;
        }
    }
}
