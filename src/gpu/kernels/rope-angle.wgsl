// The rotary angle of pair i at position pos and its (sin, cos), shared by rope.wgsl and the fused decode
// matvec (matvec.wgsl), prepended to both. Precision notes: rope.wgsl.

const TWO_OVER_PI: f32 = 0.6366197466850281;
const C1: f32 = 1.5703125;               // 201/128: 8 significant bits
const C2: f32 = 0.000484466552734375;    // 254/2^19: 7 significant bits
const C3: f32 = -6.397578431460715e-07;  // π/2 − C1 − C2 rounded to f32

// (sin, cos) of a ≥ 0 (any f32 angle up to ~1e5 rad with full accuracy).
fn sincos(a: f32) -> vec2<f32> {
  let k = round(a * TWO_OVER_PI);
  let r = ((a - k * C1) - k * C2) - k * C3;
  let r2 = r * r;
  let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
  switch (u32(i32(k)) & 3u) {
    case 0u: { return vec2<f32>(s, c); }
    case 1u: { return vec2<f32>(c, -s); }
    case 2u: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}

// (sin, cos) of pair i's angle (pos · invScale) · 2^(−i·c), c = cHi + cLo (rope.ts freqExponent).
fn rope_sincos(i: u32, pos: u32, invScale: f32, cHi: f32, cLo: f32) -> vec2<f32> {
  let eh = f32(i) * cHi;               // exact
  let n = floor(eh);
  let fr = (eh - n) + f32(i) * cLo;    // fractional part of i·c
  let freq = ldexp(exp2(-fr), -i32(n));
  return sincos((f32(pos) * invScale) * freq);
}
