// emsweep: mechanism `hh`, generated from the IR (f32). Do not edit.
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

const col_gnabar: u32 = 0u; // field gnabar (parameter) [S/cm2]
const col_gkbar: u32 = 1u; // field gkbar (parameter) [S/cm2]
const col_gl: u32 = 2u; // field gl (parameter) [S/cm2]
const col_el: u32 = 3u; // field el (parameter) [mV]
const col_il: u32 = 4u; // field il (assigned) [mA/cm2]
const col_gna: u32 = 5u; // field gna (assigned) [S/cm2]
const col_gk: u32 = 6u; // field gk (assigned) [S/cm2]
const col_minf: u32 = 7u; // field minf (assigned)
const col_hinf: u32 = 8u; // field hinf (assigned)
const col_ninf: u32 = 9u; // field ninf (assigned)
const col_mtau: u32 = 10u; // field mtau (assigned) [ms]
const col_htau: u32 = 11u; // field htau (assigned) [ms]
const col_ntau: u32 = 12u; // field ntau (assigned) [ms]
const col_m: u32 = 13u; // field m (state)
const col_h: u32 = 14u; // field h (state)
const col_n: u32 = 15u; // field n (state)
const col_ion_ena: u32 = 16u; // ion ena
const col_ion_ina: u32 = 17u; // ion ina
const col_ion_ek: u32 = 18u; // ion ek
const col_ion_ik: u32 = 19u; // ion ik
const col_v: u32 = 20u; // simulator v
const col_dt: u32 = 21u; // simulator dt
const col_celsius: u32 = 22u; // simulator celsius
const col_i_membrane: u32 = 23u; // membrane current added [mA/cm2]
const col_g_membrane: u32 = 24u; // membrane conductance added [S/cm2]

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
    let celsius = ld(col_celsius, e);
    let t4 = celsius - 6.3f;
    let t6 = t4 / 10.0f;
    let t7 = nm_pow(3.0f, t6);
    let t10 = v + 40.0f;
    let t11 = -t10;
    let t12 = t11 / 10.0f;
    let t13 = abs(t12);
    let t15 = t13 < 1e-6f;
    let t18 = t12 / 2.0f;
    let t19 = 1.0f - t18;
    let t20 = 10.0f * t19;
    let t21 = nm_exp(t12);
    let t22 = t21 - 1.0f;
    let t23 = t11 / t22;
    let t24 = select(t23, t20, t15);
    let t25 = 0.1f * t24;
    let t28 = v + 65.0f;
    let t29 = -t28;
    let t31 = t29 / 18.0f;
    let t32 = nm_exp(t31);
    let t33 = 4.0f * t32;
    let t34 = t25 + t33;
    let t35 = t25 / t34;
    let t36 = t7 * t34;
    let t37 = 1.0f / t36;
    let t40 = t29 / 20.0f;
    let t41 = nm_exp(t40);
    let t42 = 0.07f * t41;
    let t44 = v + 35.0f;
    let t45 = -t44;
    let t46 = t45 / 10.0f;
    let t47 = nm_exp(t46);
    let t48 = t47 + 1.0f;
    let t49 = 1.0f / t48;
    let t50 = t42 + t49;
    let t51 = t42 / t50;
    let t52 = t7 * t50;
    let t53 = 1.0f / t52;
    let t56 = v + 55.0f;
    let t57 = -t56;
    let t58 = t57 / 10.0f;
    let t59 = abs(t58);
    let t60 = t59 < 1e-6f;
    let t61 = t58 / 2.0f;
    let t62 = 1.0f - t61;
    let t63 = 10.0f * t62;
    let t64 = nm_exp(t58);
    let t65 = t64 - 1.0f;
    let t66 = t57 / t65;
    let t67 = select(t66, t63, t60);
    let t68 = 0.01f * t67;
    let t71 = t29 / 80.0f;
    let t72 = nm_exp(t71);
    let t73 = 0.125f * t72;
    let t74 = t68 + t73;
    let t75 = t68 / t74;
    let t76 = t7 * t74;
    let t77 = 1.0f / t76;
    data[col_m * params.stride + e] = t35;
    data[col_h * params.stride + e] = t51;
    data[col_n * params.stride + e] = t75;
    data[col_minf * params.stride + e] = t35;
    data[col_hinf * params.stride + e] = t51;
    data[col_ninf * params.stride + e] = t75;
    data[col_mtau * params.stride + e] = t37;
    data[col_htau * params.stride + e] = t53;
    data[col_ntau * params.stride + e] = t77;
}

@compute @workgroup_size(64)
fn current(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let ena = ld(col_ion_ena, e);
    let ek = ld(col_ion_ek, e);
    let gnabar = ld(col_gnabar, e);
    let gkbar = ld(col_gkbar, e);
    let gl = ld(col_gl, e);
    let el = ld(col_el, e);
    let m = ld(col_m, e);
    let h = ld(col_h, e);
    let n = ld(col_n, e);
    let t11 = v + 0.001f;
    let t12 = gnabar * m;
    let t13 = t12 * m;
    let t14 = t13 * m;
    let t15 = t14 * h;
    let t16 = gkbar * n;
    let t17 = t16 * n;
    let t18 = t17 * n;
    let t19 = t18 * n;
    let t20 = t11 - ena;
    let t21 = t15 * t20;
    let t22 = t11 - ek;
    let t23 = t19 * t22;
    let t24 = t11 - el;
    let t25 = gl * t24;
    let t26 = t21 + t23;
    let t27 = t26 + t25;
    let t28 = v - ena;
    let t29 = t15 * t28;
    let t30 = v - ek;
    let t31 = t19 * t30;
    let t32 = v - el;
    let t33 = gl * t32;
    let t34 = t29 + t31;
    let t35 = t34 + t33;
    let t36 = t27 - t35;
    let t37 = t36 / 0.001f;
    data[col_il * params.stride + e] = t33;
    data[col_gna * params.stride + e] = t15;
    data[col_gk * params.stride + e] = t19;
    data[col_ion_ina * params.stride + e] = data[col_ion_ina * params.stride + e] + t29;
    data[col_ion_ik * params.stride + e] = data[col_ion_ik * params.stride + e] + t31;
    data[col_i_membrane * params.stride + e] = data[col_i_membrane * params.stride + e] + t35;
    data[col_g_membrane * params.stride + e] = data[col_g_membrane * params.stride + e] + t37;
}

@compute @workgroup_size(64)
fn state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 64u;
    if (e >= params.count) {
        return;
    }
    let v = ld(col_v, e);
    let dt = ld(col_dt, e);
    let celsius = ld(col_celsius, e);
    let m = ld(col_m, e);
    let h = ld(col_h, e);
    let n = ld(col_n, e);
    let t8 = celsius - 6.3f;
    let t10 = t8 / 10.0f;
    let t11 = nm_pow(3.0f, t10);
    let t14 = v + 40.0f;
    let t15 = -t14;
    let t16 = t15 / 10.0f;
    let t17 = abs(t16);
    let t19 = t17 < 1e-6f;
    let t22 = t16 / 2.0f;
    let t23 = 1.0f - t22;
    let t24 = 10.0f * t23;
    let t25 = nm_exp(t16);
    let t26 = t25 - 1.0f;
    let t27 = t15 / t26;
    let t28 = select(t27, t24, t19);
    let t29 = 0.1f * t28;
    let t32 = v + 65.0f;
    let t33 = -t32;
    let t35 = t33 / 18.0f;
    let t36 = nm_exp(t35);
    let t37 = 4.0f * t36;
    let t38 = t29 + t37;
    let t39 = t29 / t38;
    let t40 = t11 * t38;
    let t41 = 1.0f / t40;
    let t44 = t33 / 20.0f;
    let t45 = nm_exp(t44);
    let t46 = 0.07f * t45;
    let t48 = v + 35.0f;
    let t49 = -t48;
    let t50 = t49 / 10.0f;
    let t51 = nm_exp(t50);
    let t52 = t51 + 1.0f;
    let t53 = 1.0f / t52;
    let t54 = t46 + t53;
    let t55 = t46 / t54;
    let t56 = t11 * t54;
    let t57 = 1.0f / t56;
    let t60 = v + 55.0f;
    let t61 = -t60;
    let t62 = t61 / 10.0f;
    let t63 = abs(t62);
    let t64 = t63 < 1e-6f;
    let t65 = t62 / 2.0f;
    let t66 = 1.0f - t65;
    let t67 = 10.0f * t66;
    let t68 = nm_exp(t62);
    let t69 = t68 - 1.0f;
    let t70 = t61 / t69;
    let t71 = select(t70, t67, t64);
    let t72 = 0.01f * t71;
    let t75 = t33 / 80.0f;
    let t76 = nm_exp(t75);
    let t77 = 0.125f * t76;
    let t78 = t72 + t77;
    let t79 = t72 / t78;
    let t80 = t11 * t78;
    let t81 = 1.0f / t80;
    let t83 = (-1.0f) / t41;
    let t84 = t39 / t41;
    let t85 = dt * t83;
    let t86 = nm_exp(t85);
    let t87 = 1.0f - t86;
    let t88 = -t84;
    let t89 = t88 / t83;
    let t90 = t89 - m;
    let t91 = t87 * t90;
    let t92 = m + t91;
    let t93 = (-1.0f) / t57;
    let t94 = t55 / t57;
    let t95 = dt * t93;
    let t96 = nm_exp(t95);
    let t97 = 1.0f - t96;
    let t98 = -t94;
    let t99 = t98 / t93;
    let t100 = t99 - h;
    let t101 = t97 * t100;
    let t102 = h + t101;
    let t103 = (-1.0f) / t81;
    let t104 = t79 / t81;
    let t105 = dt * t103;
    let t106 = nm_exp(t105);
    let t107 = 1.0f - t106;
    let t108 = -t104;
    let t109 = t108 / t103;
    let t110 = t109 - n;
    let t111 = t107 * t110;
    let t112 = n + t111;
    data[col_m * params.stride + e] = t92;
    data[col_h * params.stride + e] = t102;
    data[col_n * params.stride + e] = t112;
    data[col_minf * params.stride + e] = t39;
    data[col_hinf * params.stride + e] = t55;
    data[col_ninf * params.stride + e] = t79;
    data[col_mtau * params.stride + e] = t41;
    data[col_htau * params.stride + e] = t57;
    data[col_ntau * params.stride + e] = t81;
}
