// emsweep: mechanism `K_Pst`, generated from the IR (f32). Do not edit.
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

const col_gK_Pstbar: u32 = 0u; // field gK_Pstbar (parameter) [S/cm2]
const col_ik: u32 = 1u; // field ik (assigned) [mA/cm2]
const col_gK_Pst: u32 = 2u; // field gK_Pst (assigned) [S/cm2]
const col_m: u32 = 3u; // field m (state)
const col_h: u32 = 4u; // field h (state)
const col_ion_ek: u32 = 5u; // ion ek
const col_ion_ik: u32 = 6u; // ion ik
const col_v: u32 = 7u; // simulator v
const col_dt: u32 = 8u; // simulator dt
const col_i_membrane: u32 = 9u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 10u; // membrane conductance added [S/cm2]

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

// C's pow(x, y) in f32: WGSL's pow is undefined for x < 0 and at x = 0; NMODL's `^` is C's pow.
fn nm_pow(x: f32, y: f32) -> f32 {
    if (y == 0.0f) {
        return 1.0f;
    }
    if (x == 1.0f) {
        return 1.0f;
    }
    let ax = abs(x);
    var r = 0.0f;
    if (ax == 0.0f) {
        r = select(params.pos_inf, 0.0f, y > 0.0f);
    } else {
        r = pow(ax, y);
    }
    if (x < 0.0f) {
        if (floor(y) != y) {
            return params.nan;
        }
        // an odd integer exponent keeps the sign (|y| >= 2^24 is always even in f32)
        if (abs(y) < 16777216.0f && (floor(y * 0.5f) * 2.0f != y)) {
            r = -r;
        }
    }
    return r;
}

@compute @workgroup_size(64)
fn init(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let t2 = v + 10.0f;
    let t4 = t2 + 1.0f;
    let t5 = -t4;
    let t7 = t5 / 12.0f;
    let t8 = nm_exp(t7);
    let t9 = 1.0f + t8;
    let t10 = 1.0f / t9;
    let t12 = t2 + 54.0f;
    let t13 = -t12;
    let t15 = t13 / (-11.0f);
    let t16 = nm_exp(t15);
    let t17 = 1.0f + t16;
    let t18 = 1.0f / t17;
    data[col_m * params.stride + e] = t10;
    data[col_h * params.stride + e] = t18;
}

@compute @workgroup_size(64)
fn current(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let ek = ld(col_ion_ek, e);
    let gK_Pstbar = ld(col_gK_Pstbar, e);
    let m = ld(col_m, e);
    let h = ld(col_h, e);
    let t6 = v + 0.001f;
    let t7 = gK_Pstbar * m;
    let t8 = t7 * m;
    let t9 = t8 * h;
    let t10 = t6 - ek;
    let t11 = t9 * t10;
    let t12 = v - ek;
    let t13 = t9 * t12;
    let t14 = t11 - t13;
    let t15 = t14 / 0.001f;
    data[col_ik * params.stride + e] = t13;
    data[col_gK_Pst * params.stride + e] = t9;
    data[col_ion_ik * params.stride + e] = data[col_ion_ik * params.stride + e] + t13;
    data[col_i_membrane * params.stride + e] = data[col_i_membrane * params.stride + e] + t13;
    data[col_g_membrane * params.stride + e] = data[col_g_membrane * params.stride + e] + t15;
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
    let h = ld(col_h, e);
    let t7 = v + 10.0f;
    let t9 = t7 + 1.0f;
    let t10 = -t9;
    let t12 = t10 / 12.0f;
    let t13 = nm_exp(t12);
    let t14 = 1.0f + t13;
    let t15 = 1.0f / t14;
    let t17 = t7 < (-50.0f);
    let t20 = -t7;
    let t23 = t20 * (-0.026f);
    let t24 = nm_exp(t23);
    let t25 = 175.03f * t24;
    let t26 = 1.25f + t25;
    let t27 = t26 / 2.9528825f;
    let t28 = t20 * 0.026f;
    let t29 = nm_exp(t28);
    let t30 = 13.0f * t29;
    let t31 = 1.25f + t30;
    let t32 = t31 / 2.9528825f;
    let t33 = select(t32, t27, t17);
    let t35 = t7 + 54.0f;
    let t36 = -t35;
    let t38 = t36 / (-11.0f);
    let t39 = nm_exp(t38);
    let t40 = 1.0f + t39;
    let t41 = 1.0f / t40;
    let t46 = t7 + 55.0f;
    let t47 = 24.0f * t46;
    let t48 = 1010.0f + t47;
    let t50 = t7 + 75.0f;
    let t52 = t50 / 48.0f;
    let t54 = nm_pow(t52, 2.0f);
    let t55 = -t54;
    let t56 = nm_exp(t55);
    let t57 = t48 * t56;
    let t58 = 360.0f + t57;
    let t59 = t58 / 2.9528825f;
    let t61 = (-1.0f) / t33;
    let t62 = t15 / t33;
    let t63 = dt * t61;
    let t64 = nm_exp(t63);
    let t65 = 1.0f - t64;
    let t66 = -t62;
    let t67 = t66 / t61;
    let t68 = t67 - m;
    let t69 = t65 * t68;
    let t70 = m + t69;
    let t71 = (-1.0f) / t59;
    let t72 = t41 / t59;
    let t73 = dt * t71;
    let t74 = nm_exp(t73);
    let t75 = 1.0f - t74;
    let t76 = -t72;
    let t77 = t76 / t71;
    let t78 = t77 - h;
    let t79 = t75 * t78;
    let t80 = h + t79;
    data[col_m * params.stride + e] = t70;
    data[col_h * params.stride + e] = t80;
}
