/**
 * The renderer's state classes against the REAL back end: the API service
 * (history in a temp SQLite file, the real inference client over in-memory
 * processes running a FakeEngine) behind an InkwellApi that copies requests
 * and results through JSON, as both transports do.
 */
import type { InkwellApi, MethodName, MethodRequest, MethodResponse } from '../../../src/shared/api';
import type { FakeEngine } from '../../helpers/fake-engine';
import { useServiceFixture } from '../../main/api/service-fixture';

/** What one test gets: the API the renderer uses, and the fixture behind it. */
export type RendererBackend = ReturnType<ReturnType<typeof useServiceFixture>> & { api: InkwellApi };

/** Returns a factory of back ends (closed after each test, by the service fixture). */
export function useRendererBackend(): (options?: { engine?: () => FakeEngine }) => RendererBackend {
  const makeService = useServiceFixture();
  return (options = {}) => {
    const fixture = makeService(options.engine ? { engine: options.engine } : {});
    const api: InkwellApi = {
      call: async <M extends MethodName>(method: M, params: MethodRequest<M>) => jsonCopy(await fixture.service.handle(method, jsonCopy(params))) as MethodResponse<M>,
      subscribe: (listener) => fixture.service.subscribe((event) => listener(jsonCopy(event))),
    };
    return { ...fixture, api };
  };
}

function jsonCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
