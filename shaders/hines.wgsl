// The Hines solve of NEURON's fixed step for many lanes at once: the twin of kernels-cpu's
// `cable::hines_solve` (same operations in the same order, f32).
//
// One thread per lane. Every per-node array interleaves the lanes: node i of lane k is at
// i * params.lanes + k (params.lanes is the padded lane count, the row stride). The tree is shared
// by all lanes: parent[i] < i for i >= 1, node 0 is the root.
//
// On entry d holds the diagonal and rhs the right-hand side, in NEURON's row units (see
// kernels-cpu/src/cable/mod.rs); a[i] is the coefficient of dv[i] in its parent's row and b[i] that
// of dv[parent] in row i. On exit rhs holds the solution dv [mV] and d the eliminated diagonal.

struct CableParams {
    // nodes of the tree
    nodes: u32,
    // padded lane count: the stride between consecutive nodes
    lanes: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: CableParams;
@group(0) @binding(1) var<storage, read> parent: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
@group(0) @binding(5) var<storage, read_write> rhs: array<f32>;

@compute @workgroup_size(64)
fn hines_solve(@builtin(global_invocation_id) gid: vec3<u32>) {
    let lane = gid.x;
    if (lane >= params.lanes) {
        return;
    }
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
