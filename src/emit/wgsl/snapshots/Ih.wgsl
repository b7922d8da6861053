// emsweep: mechanism `Ih`, generated from the IR (f32). Do not edit.
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

const col_gIhbar: u32 = 0u; // field gIhbar (parameter) [S/cm2]
const col_ehcn: u32 = 1u; // field ehcn (parameter) [mV]
const col_ihcn: u32 = 2u; // field ihcn (assigned) [mA/cm2]
const col_gIh: u32 = 3u; // field gIh (assigned) [S/cm2]
const col_m: u32 = 4u; // field m (state)
const col_v: u32 = 5u; // simulator v
const col_dt: u32 = 6u; // simulator dt
const col_i_membrane: u32 = 7u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 8u; // membrane conductance added [S/cm2]

fn ld(c: u32, e: u32) -> f32 {
    return data[c * params.stride + e];
}

@compute @workgroup_size(64)
fn init(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let t3 = v == (-154.9f);
    let t5 = v + 0.0001f;
    let t6 = select(v, t5, t3);
    let t8 = t6 + 154.9f;
    let t9 = 0.00643f * t8;
    let t11 = t8 / 11.9f;
    let t12 = exp(t11);
    let t14 = t12 - 1.0f;
    let t15 = t9 / t14;
    let t18 = t6 / 33.1f;
    let t19 = exp(t18);
    let t20 = 0.193f * t19;
    let t21 = t15 + t20;
    let t22 = t15 / t21;
    data[col_m * params.stride + e] = t22;
}

@compute @workgroup_size(64)
fn current(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let gIhbar = ld(col_gIhbar, e);
    let ehcn = ld(col_ehcn, e);
    let m = ld(col_m, e);
    let t5 = v + 0.001f;
    let t6 = gIhbar * m;
    let t7 = t5 - ehcn;
    let t8 = t6 * t7;
    let t9 = v - ehcn;
    let t10 = t6 * t9;
    let t11 = t8 - t10;
    let t12 = t11 / 0.001f;
    data[col_ihcn * params.stride + e] = t10;
    data[col_gIh * params.stride + e] = t6;
    data[col_i_membrane * params.stride + e] = data[col_i_membrane * params.stride + e] + t10;
    data[col_g_membrane * params.stride + e] = data[col_g_membrane * params.stride + e] + t12;
}

@compute @workgroup_size(64)
fn state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let dt = ld(col_dt, e);
    let m = ld(col_m, e);
    let t5 = v == (-154.9f);
    let t7 = v + 0.0001f;
    let t8 = select(v, t7, t5);
    let t10 = t8 + 154.9f;
    let t11 = 0.00643f * t10;
    let t13 = t10 / 11.9f;
    let t14 = exp(t13);
    let t16 = t14 - 1.0f;
    let t17 = t11 / t16;
    let t20 = t8 / 33.1f;
    let t21 = exp(t20);
    let t22 = 0.193f * t21;
    let t23 = t17 + t22;
    let t24 = t17 / t23;
    let t25 = 1.0f / t23;
    let t27 = (-1.0f) / t25;
    let t28 = t24 / t25;
    let t29 = dt * t27;
    let t30 = exp(t29);
    let t31 = 1.0f - t30;
    let t32 = -t28;
    let t33 = t32 / t27;
    let t34 = t33 - m;
    let t35 = t31 * t34;
    let t36 = m + t35;
    data[col_m * params.stride + e] = t36;
}
