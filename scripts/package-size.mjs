#!/usr/bin/env node
/**
 * What the installer carries besides Electron itself: the files electron-builder.yml's `files`
 * patterns select from the built app and the production dependencies, split into app.asar and
 * what `asarUnpack` puts beside it, for one platform. electron-builder needs an Electron binary
 * to run at all, so this measures the same selection without it, with the same glob library.
 *
 * Usage: node scripts/package-size.mjs [--platform linux|win32|darwin] [--arch x64|arm64] [--json] [--stage DIR]
 *   --stage DIR  also copy the selected files into DIR (an unpacked app to try, e.g. `node DIR/out/main/cli.js`)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
// The glob and YAML libraries electron-builder itself uses, so the patterns mean the same here.
const builderRequire = createRequire(createRequire(import.meta.url).resolve('app-builder-lib/package.json'));
const { minimatch } = builderRequire('minimatch');
const yaml = builderRequire('js-yaml');

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const platform = option('platform', process.platform);
const arch = option('arch', process.arch);
const stage = option('stage', undefined);
const config = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
const expand = (pattern) => pattern.replaceAll('${platform}', platform).replaceAll('${arch}', arch);
const filePatterns = (config.files ?? []).map(expand);
const unpackPatterns = (config.asarUnpack ?? []).map(expand);

/** electron-builder's rule: a path is in when the last pattern that matches it is not a negation. */
function selected(path) {
  let keep = null;
  for (const pattern of filePatterns) {
    const negated = pattern.startsWith('!');
    if (minimatch(path, negated ? pattern.slice(1) : pattern, { dot: true })) keep = !negated;
  }
  // Production dependencies are always copied unless a pattern excludes them.
  return keep ?? path.startsWith('node_modules/');
}

function walk(dir, base, out) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // A nested node_modules holds packages of its own; they are listed separately.
      if (entry.name !== 'node_modules') walk(path, base, out);
    } else if (entry.isFile()) {
      out.push(relative(base, path).split(sep).join('/'));
    }
  }
}

function productionPackages() {
  const listing = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return [...new Set(listing.split('\n').map((line) => line.trim()).filter((line) => line.includes(`${sep}node_modules${sep}`)))];
}

const files = [];
walk(join(root, 'out'), root, files);
for (const extra of ['package.json', 'resources/icon.png']) if (existsSync(join(root, extra))) files.push(extra);
for (const dir of productionPackages()) walk(dir, root, files);

const byPackage = new Map();
let asarBytes = 0;
let unpackedBytes = 0;
let excludedBytes = 0;
const kept = [];
for (const path of files) {
  const size = lstatSync(join(root, path)).size;
  const owner = /^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? path.split('/')[0];
  const entry = byPackage.get(owner) ?? { kept: 0, excluded: 0 };
  if (!selected(path)) {
    excludedBytes += size;
    entry.excluded += size;
  } else {
    kept.push(path);
    entry.kept += size;
    if (unpackPatterns.some((pattern) => minimatch(path, pattern, { dot: true }))) unpackedBytes += size;
    else asarBytes += size;
  }
  byPackage.set(owner, entry);
}

if (stage) {
  for (const path of kept) {
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(root, path), join(stage, path));
  }
}

const mib = (bytes) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const report = {
  platform,
  arch,
  asarBytes,
  unpackedBytes,
  totalBytes: asarBytes + unpackedBytes,
  excludedBytes,
  packages: [...byPackage].map(([name, sizes]) => ({ name, ...sizes })).sort((a, b) => b.kept - a.kept),
};
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const lines = [`${platform}-${arch}: ${mib(report.totalBytes)} besides Electron (app.asar ${mib(asarBytes)}, unpacked ${mib(unpackedBytes)}); ${mib(excludedBytes)} of dependencies left out`];
  for (const { name, kept: size, excluded } of report.packages.filter((p) => p.kept > 0).slice(0, 12)) {
    lines.push(`  ${mib(size).padStart(10)}  ${name}${excluded > 0 ? ` (${mib(excluded)} left out)` : ''}`);
  }
  const leftOut = report.packages.filter((p) => p.kept === 0 && p.excluded > 1024 ** 2).sort((a, b) => b.excluded - a.excluded);
  if (leftOut.length > 0) lines.push(`  left out entirely: ${leftOut.map((p) => `${p.name} ${mib(p.excluded)}`).join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
