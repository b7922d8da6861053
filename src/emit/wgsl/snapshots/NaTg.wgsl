// emsweep: mechanism `NaTg`, generated from the IR (f32). Do not edit.
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

const col_gNaTgbar: u32 = 0u; // field gNaTgbar (parameter) [S/cm2]
const col_vshifth: u32 = 1u; // field vshifth (parameter) [mV]
const col_vshiftm: u32 = 2u; // field vshiftm (parameter) [mV]
const col_slopeh: u32 = 3u; // field slopeh (parameter)
const col_slopem: u32 = 4u; // field slopem (parameter)
const col_ina: u32 = 5u; // field ina (assigned) [mA/cm2]
const col_gNaTg: u32 = 6u; // field gNaTg (assigned) [S/cm2]
const col_mAlpha: u32 = 7u; // field mAlpha (assigned)
const col_mBeta: u32 = 8u; // field mBeta (assigned)
const col_hAlpha: u32 = 9u; // field hAlpha (assigned)
const col_hBeta: u32 = 10u; // field hBeta (assigned)
const col_m: u32 = 11u; // field m (state)
const col_h: u32 = 12u; // field h (state)
const col_ion_ena: u32 = 13u; // ion ena
const col_ion_ina: u32 = 14u; // ion ina
const col_ion_ttxi: u32 = 15u; // ion ttxi
const col_ion_ttxo: u32 = 16u; // ion ttxo
const col_v: u32 = 17u; // simulator v
const col_dt: u32 = 18u; // simulator dt
const col_i_membrane: u32 = 19u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 20u; // membrane conductance added [S/cm2]

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
    let ttxo = ld(col_ion_ttxo, e);
    let ttxi = ld(col_ion_ttxi, e);
    let vshifth = ld(col_vshifth, e);
    let vshiftm = ld(col_vshiftm, e);
    let slopeh = ld(col_slopeh, e);
    let slopem = ld(col_slopem, e);
    let mAlpha = ld(col_mAlpha, e);
    let mBeta = ld(col_mBeta, e);
    let hAlpha = ld(col_hAlpha, e);
    let hBeta = ld(col_hBeta, e);
    let t13 = ttxi == 0.015625f;
    let t15 = ttxo > 1e-12f;
    let t16 = t13 && t15;
    let t19 = (-38.0f) + vshiftm;
    let t20 = v == t19;
    let t22 = v + 0.0001f;
    let t23 = select(v, t22, t20);
    let t25 = t23 - t19;
    let t26 = 0.182f * t25;
    let t27 = -t25;
    let t28 = t27 / slopem;
    let t29 = nm_exp(t28);
    let t30 = 1.0f - t29;
    let t31 = t26 / t30;
    let t33 = -t23;
    let t34 = t33 + t19;
    let t35 = 0.124f * t34;
    let t36 = -t34;
    let t37 = t36 / slopem;
    let t38 = nm_exp(t37);
    let t39 = 1.0f - t38;
    let t40 = t35 / t39;
    let t41 = t31 + t40;
    let t42 = t31 / t41;
    let t44 = (-66.0f) + vshifth;
    let t45 = t23 == t44;
    let t46 = t23 + 0.0001f;
    let t47 = select(t23, t46, t45);
    let t49 = t47 - t44;
    let t50 = (-0.015f) * t49;
    let t51 = t49 / slopeh;
    let t52 = nm_exp(t51);
    let t53 = 1.0f - t52;
    let t54 = t50 / t53;
    let t55 = -t47;
    let t56 = t55 + t44;
    let t57 = (-0.015f) * t56;
    let t58 = t56 / slopeh;
    let t59 = nm_exp(t58);
    let t60 = 1.0f - t59;
    let t61 = t57 / t60;
    let t62 = t54 + t61;
    let t63 = t54 / t62;
    let t64 = select(t42, 0.0f, t16);
    let t65 = select(t31, mAlpha, t16);
    let t66 = select(t40, mBeta, t16);
    let t67 = select(t63, 1.0f, t16);
    let t68 = select(t54, hAlpha, t16);
    let t69 = select(t61, hBeta, t16);
    data[col_mAlpha * params.stride + e] = t65;
    data[col_mBeta * params.stride + e] = t66;
    data[col_hAlpha * params.stride + e] = t68;
    data[col_hBeta * params.stride + e] = t69;
    data[col_m * params.stride + e] = t64;
    data[col_h * params.stride + e] = t67;
}

@compute @workgroup_size(64)
fn current(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let ena = ld(col_ion_ena, e);
    let gNaTgbar = ld(col_gNaTgbar, e);
    let m = ld(col_m, e);
    let h = ld(col_h, e);
    let t6 = v + 0.001f;
    let t7 = gNaTgbar * m;
    let t8 = t7 * m;
    let t9 = t8 * m;
    let t10 = t9 * h;
    let t11 = t6 - ena;
    let t12 = t10 * t11;
    let t13 = v - ena;
    let t14 = t10 * t13;
    let t15 = t12 - t14;
    let t16 = t15 / 0.001f;
    data[col_ina * params.stride + e] = t14;
    data[col_gNaTg * params.stride + e] = t10;
    data[col_ion_ina * params.stride + e] = data[col_ion_ina * params.stride + e] + t14;
    data[col_i_membrane * params.stride + e] = data[col_i_membrane * params.stride + e] + t14;
    data[col_g_membrane * params.stride + e] = data[col_g_membrane * params.stride + e] + t16;
}

@compute @workgroup_size(64)
fn state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let dt = ld(col_dt, e);
    let ttxo = ld(col_ion_ttxo, e);
    let ttxi = ld(col_ion_ttxi, e);
    let vshifth = ld(col_vshifth, e);
    let vshiftm = ld(col_vshiftm, e);
    let slopeh = ld(col_slopeh, e);
    let slopem = ld(col_slopem, e);
    let mAlpha = ld(col_mAlpha, e);
    let mBeta = ld(col_mBeta, e);
    let hAlpha = ld(col_hAlpha, e);
    let hBeta = ld(col_hBeta, e);
    let m = ld(col_m, e);
    let h = ld(col_h, e);
    let t16 = ttxi == 0.015625f;
    let t18 = ttxo > 1e-12f;
    let t19 = t16 && t18;
    let t23 = (-38.0f) + vshiftm;
    let t24 = v == t23;
    let t26 = v + 0.0001f;
    let t27 = select(v, t26, t24);
    let t29 = t27 - t23;
    let t30 = 0.182f * t29;
    let t31 = -t29;
    let t32 = t31 / slopem;
    let t33 = nm_exp(t32);
    let t34 = 1.0f - t33;
    let t35 = t30 / t34;
    let t37 = -t27;
    let t38 = t37 + t23;
    let t39 = 0.124f * t38;
    let t40 = -t38;
    let t41 = t40 / slopem;
    let t42 = nm_exp(t41);
    let t43 = 1.0f - t42;
    let t44 = t39 / t43;
    let t45 = t35 + t44;
    let t46 = 1.0f / t45;
    let t47 = t46 / 2.9528825f;
    let t48 = t35 / t45;
    let t50 = (-66.0f) + vshifth;
    let t51 = t27 == t50;
    let t52 = t27 + 0.0001f;
    let t53 = select(t27, t52, t51);
    let t55 = t53 - t50;
    let t56 = (-0.015f) * t55;
    let t57 = t55 / slopeh;
    let t58 = nm_exp(t57);
    let t59 = 1.0f - t58;
    let t60 = t56 / t59;
    let t61 = -t53;
    let t62 = t61 + t50;
    let t63 = (-0.015f) * t62;
    let t64 = t62 / slopeh;
    let t65 = nm_exp(t64);
    let t66 = 1.0f - t65;
    let t67 = t63 / t66;
    let t68 = t60 + t67;
    let t69 = 1.0f / t68;
    let t70 = t69 / 2.9528825f;
    let t71 = t60 / t68;
    let t72 = select(t48, 0.0f, t19);
    let t73 = select(t47, 1e-12f, t19);
    let t74 = select(t35, mAlpha, t19);
    let t75 = select(t44, mBeta, t19);
    let t76 = select(t71, 1.0f, t19);
    let t77 = select(t70, 1e-12f, t19);
    let t78 = select(t60, hAlpha, t19);
    let t79 = select(t67, hBeta, t19);
    let t81 = (-1.0f) / t73;
    let t82 = t72 / t73;
    let t83 = dt * t81;
    let t84 = nm_exp(t83);
    let t85 = 1.0f - t84;
    let t86 = -t82;
    let t87 = t86 / t81;
    let t88 = t87 - m;
    let t89 = t85 * t88;
    let t90 = m + t89;
    let t91 = (-1.0f) / t77;
    let t92 = t76 / t77;
    let t93 = dt * t91;
    let t94 = nm_exp(t93);
    let t95 = 1.0f - t94;
    let t96 = -t92;
    let t97 = t96 / t91;
    let t98 = t97 - h;
    let t99 = t95 * t98;
    let t100 = h + t99;
    data[col_mAlpha * params.stride + e] = t74;
    data[col_mBeta * params.stride + e] = t75;
    data[col_hAlpha * params.stride + e] = t78;
    data[col_hBeta * params.stride + e] = t79;
    data[col_m * params.stride + e] = t90;
    data[col_h * params.stride + e] = t100;
}
