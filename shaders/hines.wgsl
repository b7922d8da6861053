// The cable equation of NEURON's fixed step for many lanes at once: the twins of kernels-cpu's
// `cable::hines_solve` (entry point `hines_solve`) and `cable::cable_step` (entry point
// `cable_step`), with the same f32 operations in the same order.
//
// One thread per lane. Every per-node array interleaves the lanes: node i of lane k is at
// i * params.lanes + k (params.lanes is the padded lane count, the row stride). The tree is shared
// by all lanes: parent[i] < i for i >= 1, node 0 is the root.
//
// Units are NEURON's row units (see kernels-cpu/src/cable/mod.rs): a[i] is the coefficient of
// dv[i] in its parent's row and b[i] that of dv[parent] in row i; d is the diagonal and rhs the
// right-hand side.

struct CableParams {
    // nodes of the tree
    nodes: u32,
    // padded lane count: the stride between consecutive nodes
    lanes: u32,
    // 1e-3 / dt [S/cm2 per uF/cm2]: the capacitive factor, rounded to f32 by the host from
    // the f64 value exactly as kernels-cpu's add_capacitance does
    cfac: f32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> params: CableParams;
@group(0) @binding(1) var<storage, read> parent: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
// specific capacitance [uF/cm2], 0 at zero-area nodes
@group(0) @binding(4) var<storage, read> cm: array<f32>;
@group(0) @binding(5) var<storage, read_write> d: array<f32>;
@group(0) @binding(6) var<storage, read_write> rhs: array<f32>;
// membrane potential [mV]
@group(0) @binding(7) var<storage, read_write> v: array<f32>;

// Solves the tree system of one lane in place: rhs becomes dv [mV], d the eliminated diagonal.
fn solve(lane: u32) {
    let stride = params.lanes;
    // Elimination, children before parents: row p -= (a[i] / d[i]) * row i.
    var i = params.nodes;
    loop {
        if (i <= 1u) {
            break;
        }
        i = i - 1u;
        let ii = i * stride + lane;
        let pp = parent[i] * stride + lane;
        let f = a[ii] / d[ii];
        d[pp] = d[pp] - f * b[ii];
        rhs[pp] = rhs[pp] - f * rhs[ii];
    }
    // Substitution, parents before children.
    rhs[lane] = rhs[lane] / d[lane];
    for (var j = 1u; j < params.nodes; j = j + 1u) {
        let jj = j * stride + lane;
        let pp = parent[j] * stride + lane;
        let r = rhs[jj] - b[jj] * rhs[pp];
        rhs[jj] = r / d[jj];
    }
}

// The Hines solve alone (on entry d and rhs hold the full system).
@compute @workgroup_size(64)
fn hines_solve(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    solve(lane);
}

// One backward-Euler step: on entry rhs and d hold the mechanisms' currents and conductances;
// adds the capacitance and the axial terms at the present v, solves, and adds dv to v (rhs keeps
// dv).
@compute @workgroup_size(64)
fn cable_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
    let stride = params.lanes;
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        let ii = i * stride + lane;
        d[ii] = d[ii] + params.cfac * cm[ii];
    }
    for (var i = 1u; i < params.nodes; i = i + 1u) {
        let ii = i * stride + lane;
        let pp = parent[i] * stride + lane;
        let dv = v[pp] - v[ii];
        rhs[ii] = rhs[ii] - b[ii] * dv;
        rhs[pp] = rhs[pp] + a[ii] * dv;
        d[ii] = d[ii] - b[ii];
        d[pp] = d[pp] - a[ii];
    }
    solve(lane);
    for (var i = 0u; i < params.nodes; i = i + 1u) {
        let ii = i * stride + lane;
        v[ii] = v[ii] + rhs[ii];
    }
}
