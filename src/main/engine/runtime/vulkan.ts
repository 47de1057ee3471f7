/**
 * Whether the Vulkan loader is installed on Linux. onnxruntime's WebGPU EP (Dawn) uses Vulkan there,
 * and without the loader Dawn prints "Couldn't load Vulkan" to stderr on every probe before failing,
 * which would land in every CLI run with `--device auto`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const LOADER = 'libvulkan.so.1';
const SYSTEM_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];

/** True off Linux (not our business there), or when libvulkan.so.1 is in a library folder. */
export function isVulkanLoaderInstalled(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform !== 'linux') return true;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...SYSTEM_DIRS];
  return dirs.some((dir) => existsSync(join(dir, LOADER)));
}
