// emsweep: mechanism `CaDynamics_DC0`, generated from the IR (f32). Do not edit.
// One thread per element = instance * lanes_padded + lane; column c of element e is
// data[c * params.stride + e].

struct Params {
    // elements in this block
    count: u32,
    // distance between columns [elements], at least count
    stride: u32,
    pos_inf: f32,
    neg_inf: f32,
    nan: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> data: array<f32>;

const col_gamma: u32 = 0u; // field gamma (parameter) [1]
const col_decay: u32 = 1u; // field decay (parameter) [ms]
const col_minCai: u32 = 2u; // field minCai (parameter) [mM]
const col_surftovol: u32 = 3u; // field surftovol (assigned) [1/um]
const col_cai: u32 = 4u; // ion cai
const col_ica: u32 = 5u; // ion ica
const col_dt: u32 = 6u; // simulator dt
const col_diam: u32 = 7u; // simulator diam
const col_i_membrane: u32 = 8u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 9u; // membrane conductance added [S/cm2]

fn ld(c: u32, e: u32) -> f32 {
    return data[c * params.stride + e];
}

@compute @workgroup_size(64)
fn init(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let diam = ld(col_diam, e);
    let minCai = ld(col_minCai, e);
    let t3 = 4.0f / diam;
    data[col_cai * params.stride + e] = minCai;
    data[col_surftovol * params.stride + e] = t3;
}

@compute @workgroup_size(64)
fn state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let dt = ld(col_dt, e);
    let ica = ld(col_ica, e);
    let cai = ld(col_cai, e);
    let gamma = ld(col_gamma, e);
    let decay = ld(col_decay, e);
    let minCai = ld(col_minCai, e);
    let surftovol = ld(col_surftovol, e);
    let t9 = (-10000.0f) * ica;
    let t10 = t9 * surftovol;
    let t11 = t10 * gamma;
    let t13 = t11 / 192970.67f;
    let t15 = 1.0f / decay;
    let t16 = -t15;
    let t17 = 0.0f - minCai;
    let t18 = t17 / decay;
    let t19 = t13 - t18;
    let t20 = dt * t16;
    let t21 = exp(t20);
    let t22 = 1.0f - t21;
    let t23 = -t19;
    let t24 = t23 / t16;
    let t25 = t24 - cai;
    let t26 = t22 * t25;
    let t27 = cai + t26;
    data[col_cai * params.stride + e] = t27;
}
