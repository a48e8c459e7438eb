#!/usr/bin/env node
// Draws the tray icons (one per state, 16 px and @2x 32 px), their macOS template variants
// (black + alpha, so the menu bar tints them) and the 256 px app icon, as PNG with no
// dependency: a padlock whose body shows the state. Run: node assets/make-icons.mjs
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const HERE = import.meta.dirname;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x + 0.5, y + 0.5, size);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const STATES = {
  'signed-out': { body: [120, 120, 120], mark: 'open' },
  connected: { body: [30, 140, 70], mark: 'none' },
  warning: { body: [214, 140, 0], mark: 'bang' },
  offline: { body: [120, 120, 120], mark: 'slash' },
};

/** Coverage of the padlock at (x, y) in a unit square: shackle, body, and the state's mark. */
function lock(u, v, mark) {
  const inBody = u >= 0.18 && u <= 0.82 && v >= 0.45 && v <= 0.92;
  const cx = 0.5;
  const cy = mark === 'open' ? 0.36 : 0.45;
  const dx = u - cx;
  const dy = v - cy;
  const r = Math.hypot(dx, dy);
  const shackle = r >= 0.19 && r <= 0.29 && (dy <= 0 || (v < 0.45 && (mark !== 'open' || dx > 0)));
  const legs = v > cy && v < 0.45 && ((Math.abs(u - 0.26) < 0.05 && mark !== 'open') || Math.abs(u - 0.74) < 0.05);
  let hole = false;
  if (inBody) {
    if (mark === 'bang') hole = Math.abs(u - 0.5) < 0.06 && ((v > 0.52 && v < 0.74) || (v > 0.79 && v < 0.86));
    else if (mark === 'slash') hole = Math.abs(u - 0.18 - (v - 0.45) * 1.36) < 0.06;
    else hole = Math.hypot(u - 0.5, v - 0.64) < 0.07 || (Math.abs(u - 0.5) < 0.03 && v > 0.64 && v < 0.8);
  }
  return { body: inBody && !hole, shackle: shackle || legs };
}

function draw(state, template) {
  const { body, mark } = STATES[state];
  return (x, y, size) => {
    // 4×4 supersampling for smooth edges at 16 px.
    let covered = 0;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      const p = lock((x - 0.5 + (i + 0.5) / 4) / size, (y - 0.5 + (j + 0.5) / 4) / size, mark);
      if (p.body || p.shackle) covered++;
    }
    const alpha = Math.round((covered / 16) * 255);
    if (template) return [0, 0, 0, alpha];
    const [r, g, b] = body;
    return [r, g, b, alpha];
  };
}

for (const state of Object.keys(STATES)) {
  writeFileSync(join(HERE, `tray-${state}.png`), png(16, draw(state, false)));
  writeFileSync(join(HERE, `tray-${state}@2x.png`), png(32, draw(state, false)));
  writeFileSync(join(HERE, `tray-${state}Template.png`), png(16, draw(state, true)));
  writeFileSync(join(HERE, `tray-${state}Template@2x.png`), png(32, draw(state, true)));
}
writeFileSync(join(HERE, 'icon.png'), png(256, draw('connected', false)));
