#!/usr/bin/env node
/**
 * Draws Inkwell's app icon (an ink drop on a rounded midnight-blue square)
 * and writes resources/icon.png, 512×512 RGBA: the size electron-builder
 * needs to derive the .icns and .ico. Plain Node (zlib), no image libraries;
 * edges are anti-aliased by 4×4 supersampling.
 *
 * Usage: node resources/make-icon.mjs [out.png] [size]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { Buffer } from 'node:buffer';

const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'icon.png');
const size = Number(process.argv[3] ?? 512);
const SAMPLES = 4;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Inside a square of side 1 with corner radius r (coordinates in [0, 1]). */
function inRoundedSquare(x, y, margin, r) {
  const lo = margin + r;
  const hi = 1 - margin - r;
  const dx = Math.max(lo - x, 0, x - hi);
  const dy = Math.max(lo - y, 0, y - hi);
  return x >= margin && x <= 1 - margin && y >= margin && y <= 1 - margin && dx * dx + dy * dy <= r * r;
}

/** An ink drop: a circle whose top is drawn out to a point, tangent to the circle. */
function inDrop(x, y) {
  const cx = 0.5;
  const cy = 0.6;
  const r = 0.2;
  const tipY = 0.2;
  const dx = x - cx;
  const dy = y - cy;
  if (dx * dx + dy * dy <= r * r) return true;
  if (y < tipY || y > cy) return false;
  // Tangent lines from the tip to the circle bound the upper part.
  const d = cy - tipY;
  const halfAngle = Math.asin(r / d);
  const tangentY = tipY + d * Math.cos(halfAngle) ** 2;
  if (y > tangentY) return false;
  const halfWidth = (y - tipY) * Math.tan(halfAngle);
  return Math.abs(dx) <= halfWidth;
}

/** A highlight on the drop, up and to the left. */
function inHighlight(x, y) {
  const dx = (x - 0.43) / 0.045;
  const dy = (y - 0.58) / 0.08;
  return dx * dx + dy * dy <= 1;
}

function colourAt(x, y) {
  if (!inRoundedSquare(x, y, 0.04, 0.2)) return [0, 0, 0, 0];
  if (inDrop(x, y)) return inHighlight(x, y) ? [201, 214, 255, 255] : [246, 241, 228, 255];
  // Vertical gradient from midnight blue to a deeper ink.
  const t = y;
  return [Math.round(52 - 24 * t), Math.round(71 - 33 * t), Math.round(140 - 62 * t), 255];
}

const pixels = Buffer.alloc(size * size * 4);
for (let py = 0; py < size; py += 1) {
  for (let px = 0; px < size; px += 1) {
    const sum = [0, 0, 0, 0];
    for (let sy = 0; sy < SAMPLES; sy += 1) {
      for (let sx = 0; sx < SAMPLES; sx += 1) {
        const [r, g, b, a] = colourAt((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size);
        // Premultiplied, so transparent samples do not darken the edge.
        sum[0] += r * a;
        sum[1] += g * a;
        sum[2] += b * a;
        sum[3] += a;
      }
    }
    const offset = (py * size + px) * 4;
    const alpha = sum[3] / (SAMPLES * SAMPLES);
    pixels[offset] = sum[3] ? Math.round(sum[0] / sum[3]) : 0;
    pixels[offset + 1] = sum[3] ? Math.round(sum[1] / sum[3]) : 0;
    pixels[offset + 2] = sum[3] ? Math.round(sum[2] / sum[3]) : 0;
    pixels[offset + 3] = Math.round(alpha);
  }
}

writeFileSync(out, encodePng(size, size, pixels));
process.stdout.write(`wrote ${out} (${size}×${size})\n`);
