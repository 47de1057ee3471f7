/**
 * The per-device default precision and the Engine's use of it: 'auto' takes the device's
 * preferred variant when the model has one, and a GPU that fails to open the graph gets the
 * CPU's default instead of running fp16 on the CPU.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/main/engine';
import { defaultPrecision } from '../../../../src/main/engine/precision';
import { openDecoder, type DecoderSession } from '../../../../src/main/engine/runtime';
import { GenerationParams } from '../../../../src/shared/api';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-precision-');

describe('defaultPrecision', () => {
  it('prefers int8, then int4, on the CPU and fp16 on GPUs, with fp32 when the model has no such variant', () => {
    expect(defaultPrecision('cpu', ['fp32', 'fp16', 'int8', 'int4'])).toBe('int8');
    expect(defaultPrecision('cpu', ['fp32', 'fp16', 'int4'])).toBe('int4');
    expect(defaultPrecision('cpu', ['fp32', 'fp16'])).toBe('fp32');
    expect(defaultPrecision('webgpu', ['fp32', 'fp16', 'int8', 'int4'])).toBe('fp16');
    expect(defaultPrecision('cuda', ['fp32', 'int8', 'int4'])).toBe('fp32');
  });
});

describe('Engine precision', () => {
  it("'auto' on a GPU that falls back to the CPU opens the CPU's default variant, and reports which precision ran", async () => {
    const home = tempDir();
    await makeRandomCheckpoint(join(home, 'src'), { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 32, seed: 40 });
    const opened: string[] = [];
    const engine = new Engine({
      home,
      probeDevices: async () => [{ name: 'cpu', available: true }, { name: 'webgpu', available: true }, { name: 'cuda', available: false, reason: 'none' }],
      // Stands in for a GPU whose session creation fails: the graph opens on the CPU with the reason kept.
      openDecoder: async (paths, config, device): Promise<DecoderSession> => {
        opened.push(`${paths.decoderPath.split(/[\\/]/).slice(-2).join('/')}@${device}`);
        const session = await openDecoder(paths, config, 'cpu');
        const device_ = device === 'cpu' ? session.device : { requested: device, used: 'cpu' as const, fallbackReason: 'webgpu failed, using cpu: test' };
        return Object.assign(Object.create(Object.getPrototypeOf(session) as object) as DecoderSession, session, { device: device_ }) as DecoderSession;
      },
    });
    try {
      await engine.models.import(join(home, 'src'), 'm');
      await engine.models.convert('m', 'fp16', { measure: false });
      await engine.models.convert('m', 'int8', { measure: false });
      expect(await engine.resolvePrecision('m', 'auto')).toBe('fp16');
      expect(await engine.resolvePrecision('m', 'cpu')).toBe('int8');
      const result = await engine.generate({ modelId: 'm', prompt: 'Hello', params: GenerationParams.parse({ maxNewTokens: 2, device: 'auto' }) });
      expect(result.precision).toBe('int8');
      expect(result.deviceFallbackReason).toMatch(/webgpu failed/);
      expect(opened).toEqual(['fp16/model.onnx@auto', 'int8/model.onnx@cpu']);
      expect(engine.loaded().map((d) => d.precision)).toEqual(['int8']);
      const pinned = await engine.logits('m', 'Hello', false, 'cpu', 'fp32');
      expect(pinned.precision).toBe('fp32');
    } finally {
      await engine.dispose();
    }
  });
});
