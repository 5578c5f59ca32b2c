#!/usr/bin/env node
/**
 * Writes public/favicon.ico: index.html's inline SVG icon (a blue rounded square with a white "#")
 * drawn at 32×32. Pages without that <link rel=icon> (a data file opened in the browser, the e2e
 * helper's storage reset on data/SOURCES.md) make Chrome ask for /favicon.ico: without this file
 * that request is a 404 in the console. Run: node scripts/make-favicon.mjs
 */
import { writeFileSync } from 'node:fs';

const S = 32;
const R = 7;
const BLUE = [0x2f, 0x5b, 0xd3];
/** The "#": two bars each way (x/y ranges in pixels, ends exclusive). */
const HASH = [
  [11, 14, 8, 25],
  [18, 21, 8, 25],
  [8, 25, 12, 15],
  [8, 25, 18, 21],
];

function inRoundedSquare(x, y) {
  const cx = x < R ? R : x >= S - R ? S - R - 1 : x;
  const cy = y < R ? R : y >= S - R ? S - R - 1 : y;
  return (x - cx) ** 2 + (y - cy) ** 2 <= R * R;
}

const bgra = Buffer.alloc(S * S * 4);
for (let y = 0; y < S; y++) {
  for (let x = 0; x < S; x++) {
    // BMP rows run bottom-up.
    const o = ((S - 1 - y) * S + x) * 4;
    if (!inRoundedSquare(x, y)) continue;
    const white = HASH.some(([x0, x1, y0, y1]) => x >= x0 && x < x1 && y >= y0 && y < y1);
    const [r, g, b] = white ? [255, 255, 255] : BLUE;
    bgra.set([b, g, r, 255], o);
  }
}
const mask = Buffer.alloc(S * (S / 8)); // all 0: the alpha channel decides
const info = Buffer.alloc(40);
info.writeUInt32LE(40, 0);
info.writeInt32LE(S, 4);
info.writeInt32LE(S * 2, 8); // colour + mask
info.writeUInt16LE(1, 12);
info.writeUInt16LE(32, 14);
info.writeUInt32LE(bgra.length + mask.length, 20);
const image = Buffer.concat([info, bgra, mask]);
const dir = Buffer.alloc(6 + 16);
dir.writeUInt16LE(1, 2); // type: icon
dir.writeUInt16LE(1, 4); // one image
dir.writeUInt8(S, 6);
dir.writeUInt8(S, 7);
dir.writeUInt16LE(1, 10);
dir.writeUInt16LE(32, 12);
dir.writeUInt32LE(image.length, 14);
dir.writeUInt32LE(dir.length, 18);
writeFileSync(new URL('../public/favicon.ico', import.meta.url), Buffer.concat([dir, image]));
