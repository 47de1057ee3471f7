import { describe, expectTypeOf, it } from 'vitest';
import type { InkwellBridge as PreloadBridge, IpcEnvelope as PreloadEnvelope } from '../../src/preload/bridge';
import type { InkwellBridge as RendererBridge, IpcEnvelope as RendererEnvelope } from '../../src/renderer/src/env';

// The renderer may not import from src/preload, so it declares the bridge type
// itself (src/renderer/src/env.d.ts). Type checking (npm run typecheck) fails
// here if the two declarations ever differ.
describe('the bridge type', () => {
  it('is the same in the preload and in the renderer', () => {
    expectTypeOf<RendererBridge>().toEqualTypeOf<PreloadBridge>();
    expectTypeOf<RendererEnvelope<{ a: number }>>().toEqualTypeOf<PreloadEnvelope<{ a: number }>>();
  });
});
