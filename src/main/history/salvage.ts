/**
 * Reads back JSON that an older or newer Inkwell stored: keeps every field that still validates,
 * drops unknown or invalid ones, and lets the schema's defaults fill the gaps — stored data never
 * makes start-up throw.
 */
import { z } from 'zod';

/** Parses `raw` with `schema`, salvaging valid fields (recursively into nested objects) when the whole fails. */
export function salvageParse<S extends z.ZodObject>(schema: S, raw: unknown): z.output<S> {
  const whole = schema.safeParse(raw);
  if (whole.success) return whole.data;
  const salvaged = schema.safeParse(salvageFields(schema, raw));
  return salvaged.success ? salvaged.data : schema.parse({});
}

function salvageFields(schema: z.ZodObject, raw: unknown): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  if (!isRecord(raw)) return kept;
  for (const [key, field] of Object.entries(schema.shape)) {
    if (!Object.hasOwn(raw, key)) continue;
    const value = raw[key];
    const parsed = field.safeParse(value);
    if (parsed.success) {
      kept[key] = parsed.data;
      continue;
    }
    const nested = objectInside(field);
    if (nested) {
      const inner = nested.safeParse(salvageFields(nested, value));
      if (inner.success) kept[key] = inner.data;
    }
  }
  return kept;
}

/** The object schema under default/optional/nullable wrappers, if any. */
function objectInside(schema: z.ZodType): z.ZodObject | null {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current instanceof z.ZodObject ? current : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses stored JSON text; undefined when it is not JSON (salvageParse then falls back to defaults). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
