import { describe, expectTypeOf, it } from 'vitest';
import type { InkwellBridge as PreloadBridge, IpcEnvelope as PreloadEnvelope } from '../../src/preload/bridge';
import type { InkwellBridge as RendererBridge, IpcEnvelope as RendererEnvelope } from '../../src/renderer/src/env';
import type { InkwellBridge as SharedBridge } from '../../src/shared/bridge';
import type { MethodName } from '../../src/shared/api';

// The renderer may not import from src/preload; both take the bridge type from src/shared/bridge.ts,
// which derives it from the method table. Type checking (npm run typecheck) fails here if either drifts.
describe('the bridge type', () => {
  it('is the shared one in the preload and in the renderer, with one function per method', () => {
    expectTypeOf<RendererBridge>().toEqualTypeOf<PreloadBridge>();
    expectTypeOf<PreloadBridge>().toEqualTypeOf<SharedBridge>();
    expectTypeOf<RendererEnvelope<{ a: number }>>().toEqualTypeOf<PreloadEnvelope<{ a: number }>>();
    expectTypeOf<Exclude<keyof RendererBridge, 'onEvent'>>().toEqualTypeOf<MethodName>();
  });
});
