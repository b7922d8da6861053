// Spike detection on the device, one thread per lane, after each step's lane check: an upward
// crossing of the threshold by the membrane potential at one node. CPU twin: detect_spikes in
// kernels-cpu/src/device.rs.
//
// The buffer `spikes` (words) holds, for L lanes of C records each: [0, L) the voltage at the
// previous step (f32 bits), [L, 2L) the crossings counted so far (kept or not), then from 2L the
// step of kept spike k of lane l at l * C + k, then from 2L + L * C its two voltages (f32 bits,
// at the step before and at the step) at 2 (l * C + k). Only the first C crossings are kept; the
// count goes on, so the host knows how many were lost. The host turns a record into a time.
//
// The threshold is the smallest f32 not below the f64 threshold asked for, so that these f32
// comparisons find exactly the crossings an f64 comparison of the recorded trace finds.

struct SpikeParams {
    lanes: u32,
    // the detector's node
    node: u32,
    // records per lane
    capacity: u32,
    // [mV]
    threshold: f32,
}

struct Step {
    t: f32,
    slot: u32,
    // the step number (0: finitialize)
    step: u32,
    record: u32,
}

// v and failures are only read here, but bound read_write as the lane shaders bind them, so that
// the buffers keep one usage from dispatch to dispatch.
@group(0) @binding(0) var<uniform> params: SpikeParams;
// membrane potential [mV], node i of lane k at i * lanes + k
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
// per lane 4 words, the first the failure step + 1 (0: the lane has not failed)
@group(0) @binding(2) var<storage, read_write> failures: array<u32>;
@group(0) @binding(3) var<storage, read_write> spikes: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;

@compute @workgroup_size(64)
fn detect_spikes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    let lanes = params.lanes;
    if (lane >= lanes) {
        return;
    }
    if (failures[lane * 4u] != 0u) {
        return;
    }
    let x = v[params.node * lanes + lane];
    let prev = bitcast<f32>(spikes[lane]);
    if (step.step > 0u && prev < params.threshold && x >= params.threshold) {
        let k = spikes[lanes + lane];
        if (k < params.capacity) {
            let r = lane * params.capacity + k;
            spikes[2u * lanes + r] = step.step;
            let at = 2u * lanes + lanes * params.capacity + 2u * r;
            spikes[at] = bitcast<u32>(prev);
            spikes[at + 1u] = bitcast<u32>(x);
        }
        if (k < 0xffffffffu) {
            spikes[lanes + lane] = k + 1u;
        }
    }
    spikes[lane] = bitcast<u32>(x);
}
