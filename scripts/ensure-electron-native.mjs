#!/usr/bin/env node
/**
 * Gets the desktop app ready to launch, without touching what `npm test` uses.
 *
 * 1. The Electron binary. Electron 45 no longer downloads it on install; this
 *    runs node_modules/electron/install.js, which is a no-op once it is there.
 * 2. better-sqlite3 built for Electron's ABI. node_modules/better-sqlite3 stays
 *    built for Node (vitest, the CLI, serve mode); a copy is rebuilt for
 *    Electron in .electron-native/ with @electron/rebuild (a prebuilt binary
 *    when one exists, else a local compile) and the addon is kept as
 *    .electron-native/better_sqlite3.node, which src/main/index.ts loads
 *    (electron-builder.yml ships it as resources/native/better_sqlite3.node).
 *    A stamp file records the Electron and better-sqlite3 versions it was made
 *    for, so later runs skip the work until one of them changes.
 *
 * Usage: node scripts/ensure-electron-native.mjs [--check] [--skip-electron-binary] [--root DIR]
 *   --check                 report what is missing or outdated and exit 1 if anything is; change nothing
 *   --skip-electron-binary  leave the Electron binary alone (e.g. ELECTRON_OVERRIDE_DIST_PATH setups)
 *   --root DIR              the project folder (default: the folder above scripts/)
 * INKWELL_SKIP_ELECTRON_NATIVE=1 skips everything (exit 0).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ADDON_FILE = 'better_sqlite3.node';

function parseArguments(argv) {
  const options = { check: false, skipElectronBinary: false, root: resolve(dirname(fileURLToPath(import.meta.url)), '..') };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--check') options.check = true;
    else if (arg === '--skip-electron-binary') options.skipElectronBinary = true;
    else if (arg === '--root' && argv[i + 1]) options.root = resolve(argv[(i += 1)]);
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  return options;
}

class UsageError extends Error {}

function say(line) {
  process.stdout.write(`ensure-electron-native: ${line}\n`);
}

function fail(lines) {
  for (const line of [].concat(lines)) process.stderr.write(`ensure-electron-native: ${line}\n`);
  process.exit(1);
}

function readJson(file, what) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`${what} (${file}) is missing or unreadable: ${error.message}. Run \`npm install\` first.`);
  }
}

/** The Electron executable install.js records, or null when it is not there. */
function electronExecutable(electronDir) {
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const executable = join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(executable) ? executable : null;
}

function ensureElectronBinary(electronDir, version, check) {
  const existing = electronExecutable(electronDir);
  if (existing) {
    say(`Electron ${version} binary: present (${existing})`);
    return existing;
  }
  if (check) {
    say(`Electron ${version} binary: MISSING (run \`node scripts/ensure-electron-native.mjs\` with internet access)`);
    return null;
  }
  say(`Electron ${version} binary: downloading (node_modules/electron/install.js)…`);
  const result = spawnSync(process.execPath, [join(electronDir, 'install.js')], { stdio: 'inherit' });
  const installed = electronExecutable(electronDir);
  if (result.status !== 0 || !installed) {
    fail([
      `could not download the Electron ${version} binary (install.js exited with ${result.status ?? result.signal}).`,
      'It comes from GitHub releases (or $ELECTRON_MIRROR); check the network or proxy, then run this again.',
      'Tests do not need it: `npm test` runs without Electron.',
    ]);
  }
  return installed;
}

function stampOf(electronVersion, sqliteVersion) {
  return { electron: electronVersion, betterSqlite3: sqliteVersion, platform: process.platform, arch: process.arch };
}

function sameStamp(a, b) {
  return ['electron', 'betterSqlite3', 'platform', 'arch'].every((key) => a?.[key] === b?.[key]);
}

/** Copies better-sqlite3's sources (not its Node build) into a throwaway project @electron/rebuild can walk. */
function prepareBuildProject(root, buildDir, sqliteVersion) {
  rmSync(buildDir, { recursive: true, force: true });
  const source = join(root, 'node_modules', 'better-sqlite3');
  const target = join(buildDir, 'node_modules', 'better-sqlite3');
  mkdirSync(target, { recursive: true });
  const nodeBuild = join(source, 'build');
  cpSync(source, target, {
    recursive: true,
    filter: (path) => path !== nodeBuild && !path.startsWith(`${nodeBuild}${sep}`),
  });
  writeFileSync(
    join(buildDir, 'package.json'),
    `${JSON.stringify({ name: 'inkwell-electron-native', private: true, dependencies: { 'better-sqlite3': sqliteVersion } }, null, 2)}\n`,
  );
  return target;
}

async function buildForElectron(root, outDir, electronVersion, sqliteVersion) {
  const buildDir = join(outDir, 'build');
  const moduleDir = prepareBuildProject(root, buildDir, sqliteVersion);
  say(`better-sqlite3 ${sqliteVersion}: building for Electron ${electronVersion} (${process.platform}-${process.arch}) in ${relative(root, buildDir)}…`);
  let rebuild;
  try {
    ({ rebuild } = await import('@electron/rebuild'));
  } catch (error) {
    fail(`@electron/rebuild could not be loaded (${error.message}). Run \`npm install\`.`);
  }
  try {
    await rebuild({
      buildPath: buildDir,
      electronVersion,
      arch: process.arch,
      onlyModules: ['better-sqlite3'],
      force: true,
      mode: 'sequential',
    });
  } catch (error) {
    fail([
      `could not build better-sqlite3 for Electron ${electronVersion}: ${error.message}`,
      'This needs internet access (a prebuilt binary from GitHub, or the Electron headers) and, when no prebuilt',
      'binary fits this platform, a C++ toolchain: python3, make and g++ (Linux), the Xcode command line tools (macOS)',
      'or Visual Studio Build Tools (Windows).',
    ]);
  }
  const built = join(moduleDir, 'build', 'Release', ADDON_FILE);
  if (!existsSync(built)) fail(`the build finished but ${built} is missing.`);
  return { built, buildDir };
}

/** Loads the addon inside Electron-as-Node, which proves it matches Electron's ABI; the problem in words, or null. */
function loadProblemInElectron(executable, addon) {
  const probe = `require(${JSON.stringify(addon)}); process.stdout.write('ok')`;
  const result = spawnSync(executable, ['-e', probe], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return result.stdout === 'ok' ? null : (result.stderr || result.error?.message || `exit ${result.status}`).trim();
}

async function main() {
  if (process.env.INKWELL_SKIP_ELECTRON_NATIVE === '1') {
    say('skipped (INKWELL_SKIP_ELECTRON_NATIVE=1)');
    return;
  }
  let options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message}\nusage: node scripts/ensure-electron-native.mjs [--check] [--skip-electron-binary] [--root DIR]`);
    throw error;
  }
  const { root, check } = options;
  const electronDir = join(root, 'node_modules', 'electron');
  const electronVersion = readJson(join(electronDir, 'package.json'), 'the electron package').version;
  const sqliteVersion = readJson(join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'the better-sqlite3 package').version;

  const executable = options.skipElectronBinary ? null : ensureElectronBinary(electronDir, electronVersion, check);
  let missing = !options.skipElectronBinary && executable === null;

  const outDir = join(root, '.electron-native');
  const addon = join(outDir, ADDON_FILE);
  const stampFile = join(outDir, 'stamp.json');
  const wanted = stampOf(electronVersion, sqliteVersion);
  const current = existsSync(stampFile) ? JSON.parse(readFileSync(stampFile, 'utf8')) : null;
  if (existsSync(addon) && sameStamp(current, wanted)) {
    say(`better-sqlite3 ${sqliteVersion} for Electron ${electronVersion}: up to date (${relative(root, addon)})`);
  } else if (check) {
    say(`better-sqlite3 for Electron ${electronVersion}: ${existsSync(addon) ? 'OUTDATED' : 'MISSING'} (${relative(root, addon)})`);
    missing = true;
  } else {
    const { built, buildDir } = await buildForElectron(root, outDir, electronVersion, sqliteVersion);
    const staging = `${addon}.tmp`;
    copyFileSync(built, staging);
    renameSync(staging, addon);
    const problem = executable ? loadProblemInElectron(executable, addon) : null;
    if (problem) {
      rmSync(addon, { force: true });
      rmSync(stampFile, { force: true });
      fail(`the built addon does not load in Electron ${electronVersion}: ${problem}`);
    }
    writeFileSync(stampFile, `${JSON.stringify(wanted, null, 2)}\n`);
    rmSync(buildDir, { recursive: true, force: true });
    say(`better-sqlite3 ${sqliteVersion} for Electron ${electronVersion}: built (${relative(root, addon)})`);
  }
  if (check && missing) process.exit(1);
}

await main();
