// Node values into a mechanism's per-instance columns before a kernel (`gather`), and the
// written columns back to the nodes after it (`scatter`): the ABI of the generated mechanism
// kernels (src/emit/wgsl) around them. CPU twins: kernels-cpu/src/device.rs.
//
// One thread per element of a column block: element e = (instance - op.first_instance) * lanes
// + lane; column c of element e is data[c * op.stride + e]. Node arrays interleave the lanes
// (node n of lane k at n * lanes + k); the ion arrays are laid out as in shaders/lanes.wgsl.
// A plan entry is two words in `lists`: the column, then where its value lives: 0 v, 1 the
// current accumulator, 2 the conductance accumulator, 3 the time (gather only), 4 + s * 4 + var
// an ion value of species s.

struct Step {
    t: f32,
    slot: u32,
    step: u32,
    record: u32,
}

struct Op {
    // lanes (padded): the node-array stride
    lanes: u32,
    // nodes of the cell
    nodes: u32,
    // the first instance of the block, and its number of elements
    first_instance: u32,
    count: u32,
    // distance between the block's columns [elements]
    stride: u32,
    // lists[nodes_start + instance]: the node of each instance of the mechanism
    nodes_start: u32,
    // the plan: `entries` pairs from lists[plan_start]
    plan_start: u32,
    entries: u32,
}

@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@group(0) @binding(1) var<storage, read_write> acc_i: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> ions: array<f32>;
@group(0) @binding(4) var<storage, read> lists: array<u32>;
@group(0) @binding(5) var<storage, read_write> data: array<f32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(2) @binding(0) var<uniform> op: Op;

// The element of this thread, or op.count when it has none.
fn element(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    let e = gid.x + gid.y * nwg.x * 64u;
    return min(e, op.count);
}

// The node-array index of element e.
fn node_index(e: u32) -> u32 {
    let instance = op.first_instance + e / op.lanes;
    let lane = e % op.lanes;
    return lists[op.nodes_start + instance] * op.lanes + lane;
}

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e >= op.count) {
        return;
    }
    let k = node_index(e);
    let per_array = op.nodes * op.lanes;
    for (var j = 0u; j < op.entries; j = j + 1u) {
        let c = lists[op.plan_start + 2u * j];
        let src = lists[op.plan_start + 2u * j + 1u];
        var x = 0.0f;
        if (src == 0u) {
            x = v[k];
        } else if (src == 1u) {
            x = acc_i[k];
        } else if (src == 2u) {
            x = acc_g[k];
        } else if (src == 3u) {
            x = step.t;
        } else {
            x = ions[(src - 4u) * per_array + k];
        }
        data[c * op.stride + e] = x;
    }
}

@compute @workgroup_size(64)
fn scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e >= op.count) {
        return;
    }
    let k = node_index(e);
    let per_array = op.nodes * op.lanes;
    for (var j = 0u; j < op.entries; j = j + 1u) {
        let c = lists[op.plan_start + 2u * j];
        let dst = lists[op.plan_start + 2u * j + 1u];
        let x = data[c * op.stride + e];
        if (dst == 0u) {
            v[k] = x;
        } else if (dst == 1u) {
            acc_i[k] = x;
        } else if (dst == 2u) {
            acc_g[k] = x;
        } else if (dst >= 4u) {
            ions[(dst - 4u) * per_array + k] = x;
        }
    }
}
