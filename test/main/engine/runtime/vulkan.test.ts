import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVulkanLoaderInstalled } from '../../../../src/main/engine/runtime/vulkan';

describe('isVulkanLoaderInstalled', () => {
  it('finds the loader through LD_LIBRARY_PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vk-'));
    writeFileSync(join(dir, 'libvulkan.so.1'), '');
    expect(isVulkanLoaderInstalled({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }, 'linux')).toBe(true);
  });
  it('does not look on other platforms', () => {
    expect(isVulkanLoaderInstalled({}, 'win32')).toBe(true);
  });
  it('agrees with the file system on this Linux machine', () => {
    const present = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'].some((d) => existsSync(join(d, 'libvulkan.so.1')));
    if (process.platform === 'linux') expect(isVulkanLoaderInstalled({}, 'linux')).toBe(present);
  });
});
