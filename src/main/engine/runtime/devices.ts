/**
 * The one place that maps Inkwell devices to onnxruntime-node execution providers
 * and finds out, with a real one-node session, which of them work here.
 */
import { env, InferenceSession, Tensor } from 'onnxruntime-node';
import { DeviceName, type DeviceStatus } from '../../../shared/api';
import { GraphBuilder } from '../onnx/builder';
import { isCudaProviderInstalled } from './cuda';
import { isVulkanLoaderInstalled } from './vulkan';

// Probing a missing EP makes onnxruntime print its load failure to stderr on every start; every
// failure also surfaces as an exception with the same text, which is what gets reported.
env.logLevel = 'fatal';

/** Device → onnxruntime execution provider name. */
export const EXECUTION_PROVIDER: Readonly<Record<DeviceName, string>> = { cpu: 'cpu', webgpu: 'webgpu', cuda: 'cuda' };

/** The order 'auto' tries devices in. */
export const AUTO_ORDER: readonly DeviceName[] = ['cuda', 'webgpu', 'cpu'];

let probeModel: Uint8Array | undefined;

/** y = x + 1 over a float32 [2]: small enough to build per process, real enough to need the EP's kernels. */
function probeGraph(): Uint8Array {
  if (!probeModel) {
    const g = new GraphBuilder('inkwell_probe');
    const x = g.input('x', 'float32', [2]);
    g.output(g.op('Add', [x, g.constFloat([1, 1])]), 'y', 'float32', [2]);
    probeModel = g.toModelProto();
  }
  return probeModel;
}

/** The first line of an error, with a hint where the cause is known. */
export function describeDeviceError(device: DeviceName, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? '';
  if (device === 'cuda' && /shared library|providers_shared|providers_cuda|libcudart|libcublas/i.test(message)) {
    return `CUDA execution provider is not installed or its CUDA/cuDNN libraries are missing (npm run fetch-cuda): ${message}`;
  }
  if (device === 'webgpu' && /adapter/i.test(message)) return `no WebGPU adapter on this machine: ${message}`;
  return message;
}

/**
 * Creates and runs the probe session on one device. For GPU devices CPU fallback is disabled,
 * so a session that would silently run on the CPU counts as a failure.
 */
async function probeOne(device: DeviceName): Promise<DeviceStatus> {
  // Without the provider library ORT's dlopen failure is printed to stderr before any log level
  // applies (transformers.js#1642), so do not even try.
  if (device === 'cuda' && !isCudaProviderInstalled()) {
    return { name: device, available: false, reason: 'CUDA execution provider is not installed (npm run fetch-cuda)' };
  }
  if (device === 'webgpu' && !isVulkanLoaderInstalled()) {
    return { name: device, available: false, reason: 'WebGPU needs the Vulkan loader (libvulkan.so.1), which is not installed (Debian/Ubuntu: apt install libvulkan1)' };
  }
  let session: InferenceSession | undefined;
  try {
    session = await InferenceSession.create(probeGraph(), {
      executionProviders: [EXECUTION_PROVIDER[device]],
      logSeverityLevel: 4,
      ...(device === 'cpu' ? {} : { extra: { session: { disable_cpu_ep_fallback: '1' } } }),
    });
    const out = await session.run({ x: new Tensor('float32', Float32Array.from([1, 2]), [2]) });
    const y = out.y?.data as Float32Array | undefined;
    if (!y || y[0] !== 2 || y[1] !== 3) return { name: device, available: false, reason: 'probe session returned wrong values' };
    return { name: device, available: true };
  } catch (err) {
    return { name: device, available: false, reason: describeDeviceError(device, err) };
  } finally {
    await session?.release().catch(() => undefined);
  }
}

let cachedProbe: Promise<DeviceStatus[]> | undefined;

/** Probes CPU, WebGPU and CUDA (once per process; `fresh` probes again). */
export function probeDevices(fresh = false): Promise<DeviceStatus[]> {
  if (!cachedProbe || fresh) {
    cachedProbe = (async () => {
      const out: DeviceStatus[] = [];
      // One at a time: GPU runtimes do not like being initialised concurrently.
      for (const device of DeviceName.options) out.push(await probeOne(device));
      return out;
    })();
  }
  return cachedProbe;
}
