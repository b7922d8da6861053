// emsweep: mechanism `SKv3_1`, generated from the IR (f32). Do not edit.
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

const col_gSKv3_1bar: u32 = 0u; // field gSKv3_1bar (parameter) [S/cm2]
const col_ik: u32 = 1u; // field ik (assigned) [mA/cm2]
const col_gSKv3_1: u32 = 2u; // field gSKv3_1 (assigned) [S/cm2]
const col_m: u32 = 3u; // field m (state)
const col_ion_ek: u32 = 4u; // ion ek
const col_ion_ik: u32 = 5u; // ion ik
const col_v: u32 = 6u; // simulator v
const col_dt: u32 = 7u; // simulator dt
const col_i_membrane: u32 = 8u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 9u; // membrane conductance added [S/cm2]

fn ld(c: u32, e: u32) -> f32 {
    return data[c * params.stride + e];
}

// exp(x) in f32 to about 1 ulp on every device (Vulkan lets a device's exp be off by 3 + 2|x| ulp;
// lavapipe's reaches 61 ulp near x = -80 and 3.4 ulp near 0, which 1 - exp(x) next to a rate
// function's removable singularity turns into large relative errors). x = n ln2 + r with
// |r| <= ln2/2 (ln2 split in two so that n * ln2_hi is exact), exp(r) by Cephes' expf polynomial,
// times 2^n.
fn nm_exp(x: f32) -> f32 {
    if (x != x) {
        return x;
    }
    if (x > 88.72284f) {
        return params.pos_inf;
    }
    if (x < -103.97208f) {
        return 0.0f;
    }
    let n = floor(x * 1.44269504f + 0.5f);
    let r = (x - n * 0.693359375f) - n * (-2.12194440e-4f);
    let z = r * r;
    var p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    let k = i32(n);
    if (k < -125) {
        // subnormal results: scale in two steps
        return ldexp(ldexp(p, k + 64), -64);
    }
    return ldexp(p, k);
}

@compute @workgroup_size(64)
fn init(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let t3 = v - 18.7f;
    let t5 = t3 / (-9.7f);
    let t6 = nm_exp(t5);
    let t7 = 1.0f + t6;
    let t8 = 1.0f / t7;
    data[col_m * params.stride + e] = t8;
}

@compute @workgroup_size(64)
fn current(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let ek = ld(col_ion_ek, e);
    let gSKv3_1bar = ld(col_gSKv3_1bar, e);
    let m = ld(col_m, e);
    let t5 = v + 0.001f;
    let t6 = gSKv3_1bar * m;
    let t7 = t5 - ek;
    let t8 = t6 * t7;
    let t9 = v - ek;
    let t10 = t6 * t9;
    let t11 = t8 - t10;
    let t12 = t11 / 0.001f;
    data[col_ik * params.stride + e] = t10;
    data[col_gSKv3_1 * params.stride + e] = t6;
    data[col_ion_ik * params.stride + e] = data[col_ion_ik * params.stride + e] + t10;
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
    let t5 = v - 18.7f;
    let t7 = t5 / (-9.7f);
    let t8 = nm_exp(t7);
    let t9 = 1.0f + t8;
    let t10 = 1.0f / t9;
    let t13 = v - (-46.56f);
    let t15 = t13 / (-44.14f);
    let t16 = nm_exp(t15);
    let t17 = 1.0f + t16;
    let t18 = 4.0f / t17;
    let t20 = (-1.0f) / t18;
    let t21 = t10 / t18;
    let t22 = dt * t20;
    let t23 = nm_exp(t22);
    let t24 = 1.0f - t23;
    let t25 = -t21;
    let t26 = t25 / t20;
    let t27 = t26 - m;
    let t28 = t24 * t27;
    let t29 = m + t28;
    data[col_m * params.stride + e] = t29;
}
