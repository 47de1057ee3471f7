/**
 * Recognising an allocation failure among the errors a load or a step can end with, so that the
 * engine falls back to a smaller precision (or the CPU) instead of reporting an internal error.
 * onnxruntime reports a failed allocation as "Failed to allocate memory for requested buffer of
 * size N" (BFCArena, CPU and CUDA), "bad allocation"/"std::bad_alloc" from the C++ runtime,
 * "CUDA failure 2: out of memory" (cudaErrorMemoryAllocation) or WebGPU's "Out of memory"; V8
 * reports "Array buffer allocation failed" when the binding's copy of a tensor cannot be made.
 */

const ALLOCATION_FAILURE =
  /failed to allocate|bad[_ ]alloc|bad allocation|out of memory|cannot allocate memory|\bENOMEM\b|array buffer allocation failed|allocation failed|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED/i;

/** True when `error` (or one of its causes) is an allocation failure. */
export function isOutOfMemory(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RangeError && /allocation/i.test(e.message)) return true;
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    if (ALLOCATION_FAILURE.test(message)) return true;
    if ((e as { code?: unknown }).code === 'ENOMEM') return true;
  }
  return false;
}

/** The first line of an error's message, short enough for a notice. */
export function shortReason(error: unknown, max = 160): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() ?? '';
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`;
}
