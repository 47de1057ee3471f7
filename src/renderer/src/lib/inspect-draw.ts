/**
 * Canvas drawing of the Inspect views. At GPT-2's full window (1024 tokens) one head holds 525 k
 * weights; as SVG that is hundreds of thousands of nodes, so every view draws on one canvas: lines
 * are batched into a few paths by opacity, heatmaps are one ImageData each.
 */
import { halfValues, triangleSize, type AttentionLayer, type AttentionOverview, type HalfMatrix } from '../../../shared/inspect';

/** The colour of head `head` of `heads` (bertviz gives each head its own hue). */
export function headColour(head: number, heads: number, alpha = 1): string {
  return `hsl(${Math.round((head * 360) / Math.max(1, heads) + 200) % 360} 80% 45% / ${alpha})`;
}

/** Geometry of the head view: two token columns with the lines between them. */
export const HEAD_VIEW = { rowHeight: 18, columnWidth: 150, gap: 220, top: 8 } as const;

/** Canvas size of a head view over `seqLen` tokens. */
export function headViewSize(seqLen: number): { width: number; height: number } {
  return { width: HEAD_VIEW.columnWidth * 2 + HEAD_VIEW.gap, height: HEAD_VIEW.top * 2 + seqLen * HEAD_VIEW.rowHeight };
}

/** Which token a point of the head view is over: the side and the index, or null. */
export function headViewHit(x: number, y: number, seqLen: number): { side: 'query' | 'key'; index: number } | null {
  const index = Math.floor((y - HEAD_VIEW.top) / HEAD_VIEW.rowHeight);
  if (index < 0 || index >= seqLen) return null;
  if (x < HEAD_VIEW.columnWidth) return { side: 'query', index };
  if (x > HEAD_VIEW.columnWidth + HEAD_VIEW.gap) return { side: 'key', index };
  return null;
}

/** What the head view draws. */
export interface HeadViewInput {
  attention: AttentionLayer;
  labels: readonly string[];
  heads: readonly number[];
  /** The hovered token: only its lines are drawn, and the other column shows its weights. */
  focus: { side: 'query' | 'key'; index: number } | null;
  text: string;
  muted: string;
  /**
   * The part of the full view that is drawn: `top` px scrolled, `height` px tall. The canvas is only
   * that tall: stroking lines that span an 18 000 px canvas costs the rasterizer the whole canvas per
   * path (measured: 5–20 s for 20 heads at 1024 tokens), one viewport costs a few ms.
   */
  window?: { top: number; height: number };
}

// Unfocused, a 1024-token head has 525 k weights; the faint ones are invisible at that density anyway.
const FAINT = 0.02;
const BUCKETS = 12;

/** Draws the head view: queries left, keys right, lines weighted by attention. */
export function drawHeadView(ctx: CanvasRenderingContext2D, input: HeadViewInput): void {
  const { attention, labels, heads, focus } = input;
  const n = attention.seqLen;
  const full = headViewSize(n);
  const view = input.window ?? { top: 0, height: full.height };
  const { width } = full;
  const { rowHeight, columnWidth, gap, top } = HEAD_VIEW;
  const values = halfValues();
  const head0 = (h: number): number => h * triangleSize(n);
  const weight = (h: number, i: number, j: number): number => values[attention.data[head0(h) + (i * (i + 1)) / 2 + j] as number] as number;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, width, view.height);
  ctx.translate(0, -view.top);
  const y = (i: number): number => top + i * rowHeight + rowHeight / 2;
  // Rows in view (with a row's margin): a line from query i down-left to key j ≤ i crosses the view
  // only when i is at or below its first row and j at or above its last.
  const firstRow = Math.max(0, Math.floor((view.top - top) / rowHeight) - 1);
  const lastRow = Math.min(n - 1, Math.ceil((view.top + view.height - top) / rowHeight) + 1);
  const x0 = columnWidth - 4;
  const x1 = columnWidth + gap + 4;

  // Weights of the focused token, summed over the heads shown: the other column's boxes.
  const shade = new Float32Array(n);
  if (focus) {
    for (const h of heads) {
      if (focus.side === 'query') for (let j = 0; j <= focus.index; j++) shade[j] = (shade[j] as number) + weight(h, focus.index, j) / heads.length;
      else for (let i = focus.index; i < n; i++) shade[i] = (shade[i] as number) + weight(h, i, focus.index) / heads.length;
    }
  }

  ctx.lineWidth = 2;
  for (const h of heads) {
    const paths = Array.from({ length: BUCKETS }, () => new Path2D());
    const used = new Uint8Array(BUCKETS);
    const add = (i: number, j: number, w: number): void => {
      const b = Math.min(BUCKETS - 1, Math.floor(w * BUCKETS));
      const path = paths[b] as Path2D;
      path.moveTo(x0, y(i));
      path.lineTo(x1, y(j));
      used[b] = 1;
    };
    if (focus?.side === 'query') {
      for (let j = 0; j <= focus.index; j++) add(focus.index, j, weight(h, focus.index, j));
    } else if (focus?.side === 'key') {
      for (let i = focus.index; i < n; i++) add(i, focus.index, weight(h, i, focus.index));
    } else {
      const base = head0(h);
      for (let i = firstRow; i < n; i++) {
        const row = base + (i * (i + 1)) / 2;
        for (let j = 0, end = Math.min(i, lastRow); j <= end; j++) {
          const w = values[attention.data[row + j] as number] as number;
          if (w >= FAINT) add(i, j, w);
        }
      }
    }
    for (let b = 0; b < BUCKETS; b++) {
      if (!used[b]) continue;
      ctx.strokeStyle = headColour(h, attention.heads, Math.min(1, 0.1 + 0.9 * ((b + 0.5) / BUCKETS)));
      ctx.stroke(paths[b] as Path2D);
    }
  }

  ctx.font = '12px ui-monospace, SFMono-Regular, Menlo, monospace';
  ctx.textBaseline = 'middle';
  for (let i = firstRow; i <= lastRow; i++) {
    const label = clip(labels[i] ?? '', 18);
    const focused = focus?.index === i;
    const s = shade[i] as number;
    if (focus && s > 0) {
      ctx.fillStyle = `hsl(210 90% 55% / ${Math.min(0.85, 0.1 + s)})`;
      if (focus.side === 'query') ctx.fillRect(columnWidth + gap + 2, y(i) - rowHeight / 2 + 1, columnWidth - 4, rowHeight - 2);
      else ctx.fillRect(2, y(i) - rowHeight / 2 + 1, columnWidth - 4, rowHeight - 2);
    }
    if (focused) {
      ctx.fillStyle = 'hsl(45 100% 60% / 0.6)';
      if (focus?.side === 'query') ctx.fillRect(2, y(i) - rowHeight / 2 + 1, columnWidth - 4, rowHeight - 2);
      else ctx.fillRect(columnWidth + gap + 2, y(i) - rowHeight / 2 + 1, columnWidth - 4, rowHeight - 2);
    }
    ctx.fillStyle = focus && !focused && s === 0 ? input.muted : input.text;
    ctx.textAlign = 'right';
    ctx.fillText(label, columnWidth - 8, y(i));
    ctx.textAlign = 'left';
    ctx.fillText(label, columnWidth + gap + 8, y(i));
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

/** Geometry of the model view: one thumbnail per layer × head, the same size whatever the text's length. */
export function modelViewLayout(overview: Pick<AttentionOverview, 'layers' | 'heads' | 'size'>): { thumb: number; pad: number; left: number; top: number; width: number; height: number } {
  const thumb = 56;
  const pad = 6;
  const left = 62;
  const top = 22;
  return { thumb, pad, left, top, width: left + overview.heads * (thumb + pad), height: top + overview.layers * (thumb + pad) };
}

/** Which layer × head a point of the model view is over, or null. */
export function modelViewHit(x: number, y: number, overview: Pick<AttentionOverview, 'layers' | 'heads' | 'size'>): { layer: number; head: number } | null {
  const { thumb, pad, left, top } = modelViewLayout(overview);
  const head = Math.floor((x - left) / (thumb + pad));
  const layer = Math.floor((y - top) / (thumb + pad));
  if (head < 0 || head >= overview.heads || layer < 0 || layer >= overview.layers) return null;
  if ((x - left) % (thumb + pad) >= thumb || (y - top) % (thumb + pad) >= thumb) return null;
  return { layer, head };
}

/** Draws every layer × head as a small heatmap (darker: more attention), with layer and head labels. */
export function drawModelView(ctx: CanvasRenderingContext2D, overview: AttentionOverview, colours: { text: string }, hover: { layer: number; head: number } | null): void {
  const { thumb, pad, left, top, width, height } = modelViewLayout(overview);
  ctx.clearRect(0, 0, width, height);
  const { size, heads } = overview;
  const image = new ImageData(size, size);
  const cell = new OffscreenCanvas(size, size);
  const cellContext = cell.getContext('2d') as OffscreenCanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = false;
  for (let layer = 0; layer < overview.layers; layer++) {
    for (let head = 0; head < heads; head++) {
      const base = (layer * heads + head) * size * size;
      for (let I = 0; I < size; I++) {
        for (let J = 0; J < size; J++) {
          // sqrt: most heads spread thin mass over many keys, which a linear scale would leave white.
          const [r, g, b] = J > I ? [236, 238, 242] : heat(Math.sqrt((overview.data[base + I * size + J] as number) / 255), head, heads);
          const at = (I * size + J) * 4;
          image.data[at] = r;
          image.data[at + 1] = g;
          image.data[at + 2] = b;
          image.data[at + 3] = 255;
        }
      }
      cellContext.putImageData(image, 0, 0);
      ctx.drawImage(cell, left + head * (thumb + pad), top + layer * (thumb + pad), thumb, thumb);
    }
  }
  ctx.fillStyle = colours.text;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let layer = 0; layer < overview.layers; layer++) ctx.fillText(`Layer ${layer + 1}`, left - 8, top + layer * (thumb + pad) + thumb / 2);
  ctx.textAlign = 'center';
  for (let head = 0; head < heads; head++) ctx.fillText(`Head ${head + 1}`, left + head * (thumb + pad) + thumb / 2, top / 2);
  if (hover) {
    ctx.strokeStyle = colours.text;
    ctx.lineWidth = 2;
    ctx.strokeRect(left + hover.head * (thumb + pad) - 1, top + hover.layer * (thumb + pad) - 1, thumb + 2, thumb + 2);
  }
}

/** A head's hue from white (0) to full colour (1), as RGB bytes. */
function heat(t: number, head: number, heads: number): [number, number, number] {
  const [r, g, b] = hslToRgb((((head * 360) / Math.max(1, heads) + 200) % 360) / 360, 0.8, 0.42);
  return [Math.round(255 + (r - 255) * t), Math.round(255 + (g - 255) * t), Math.round(255 + (b - 255) * t)];
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t: number): number => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    const v = u < 1 / 6 ? p + (q - p) * 6 * u : u < 1 / 2 ? q : u < 2 / 3 ? p + (q - p) * (2 / 3 - u) * 6 : p;
    return Math.round(v * 255);
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)];
}

/** A diverging colour for `v` in [-1, 1]: blue (negative), white (0), red (positive). */
export function diverging(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  return t >= 0 ? [255, Math.round(255 - 190 * t), Math.round(255 - 210 * t)] : [Math.round(255 + 210 * t), Math.round(255 + 150 * t), 255];
}

/** Draws a float16 matrix as a heatmap filling the canvas, scaled so the larger of |min|, |max| is full colour. */
export function drawHalfMatrix(ctx: CanvasRenderingContext2D, matrix: HalfMatrix, width: number, height: number): void {
  const values = halfValues();
  const range = Math.max(Math.abs(matrix.min), Math.abs(matrix.max)) || 1;
  const image = ctx.createImageData(matrix.cols, matrix.rows);
  for (let i = 0; i < matrix.rows * matrix.cols; i++) {
    const [r, g, b] = diverging((values[matrix.data[i] as number] as number) / range);
    image.data[i * 4] = r;
    image.data[i * 4 + 1] = g;
    image.data[i * 4 + 2] = b;
    image.data[i * 4 + 3] = 255;
  }
  // Drawn once at its own size, then scaled with smoothing off so each cell stays a crisp block.
  const source = new OffscreenCanvas(matrix.cols, matrix.rows);
  (source.getContext('2d') as OffscreenCanvasRenderingContext2D).putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(source, 0, 0, width, height);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Saves a canvas as a PNG download named `name`. */
export function downloadCanvas(canvas: HTMLCanvasElement, name: string): void {
  const link = document.createElement('a');
  link.href = canvas.toDataURL('image/png');
  link.download = name;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
}
