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
const col_ion_cai: u32 = 4u; // ion cai
const col_ion_ica: u32 = 5u; // ion ica
const col_dt: u32 = 6u; // simulator dt
const col_diam: u32 = 7u; // simulator diam
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
    let diam = ld(col_diam, e);
    let minCai = ld(col_minCai, e);
    let t3 = 4.0f / diam;
    data[col_ion_cai * params.stride + e] = minCai;
    data[col_surftovol * params.stride + e] = t3;
}

@compute @workgroup_size(64)
fn state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let dt = ld(col_dt, e);
    let ica = ld(col_ion_ica, e);
    let cai = ld(col_ion_cai, e);
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
    let t21 = nm_exp(t20);
    let t22 = 1.0f - t21;
    let t23 = -t19;
    let t24 = t23 / t16;
    let t25 = t24 - cai;
    let t26 = t22 * t25;
    let t27 = cai + t26;
    data[col_ion_cai * params.stride + e] = t27;
}
