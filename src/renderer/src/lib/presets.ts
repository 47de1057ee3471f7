/**
 * Generation presets. Creative ones only set sampling parameters; marketing
 * ones are few-shot templates, because GPT-2 is not instruction-tuned: it
 * continues a pattern ("Product: … / Tagline: …") rather than following an
 * instruction.
 */
import type { GenerationParams } from '../../../shared/api';

/** The sampling fields a preset may set. */
export type PresetParams = Partial<
  Pick<GenerationParams, 'maxNewTokens' | 'numReturnSequences' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'stop'>
>;

/** A named set of sampling parameters for continuing prose. */
export interface CreativePreset {
  id: string;
  name: string;
  description: string;
  params: PresetParams;
}

/** Creative presets, most useful first. */
export const creativePresets: readonly CreativePreset[] = [
  {
    id: 'story-balanced',
    name: 'Story — balanced',
    description: 'Coherent prose with some surprise.',
    params: { maxNewTokens: 40, numReturnSequences: 3, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1, stop: [] },
  },
  {
    id: 'story-wild',
    name: 'Story — wild',
    description: 'Unexpected turns; more misses.',
    params: { maxNewTokens: 64, numReturnSequences: 4, temperature: 1.2, topK: 0, topP: 0.98, repetitionPenalty: 1.15, stop: [] },
  },
  {
    id: 'precise',
    name: 'Precise',
    description: 'Safe, likely words; good for finishing a sentence.',
    params: { maxNewTokens: 24, numReturnSequences: 3, temperature: 0.6, topK: 20, topP: 0.9, repetitionPenalty: 1.2, stop: [] },
  },
  {
    id: 'next-paragraph',
    name: 'Next paragraph',
    description: 'Stops at the end of a paragraph.',
    params: { maxNewTokens: 120, numReturnSequences: 3, temperature: 0.85, topK: 40, topP: 0.95, repetitionPenalty: 1.12, stop: ['\n\n'] },
  },
];

/** The fields a marketing template asks for. */
export interface MarketingFields {
  product: string;
  audience: string;
  tone: string;
}

/** One worked example of a few-shot template. */
export interface MarketingExample extends MarketingFields {
  output: string;
}

/** A few-shot template: examples, then the user's fields and an open `outputLabel:` line. */
export interface MarketingTemplate {
  id: string;
  name: string;
  description: string;
  outputLabel: string;
  examples: readonly MarketingExample[];
  params: PresetParams;
}

/** Marketing templates. Outputs end at a line break, so each candidate is one line of copy. */
export const marketingTemplates: readonly MarketingTemplate[] = [
  {
    id: 'tagline',
    name: 'Tagline',
    description: 'A short line for a product.',
    outputLabel: 'Tagline',
    params: { maxNewTokens: 24, numReturnSequences: 5, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.15, stop: ['\n'] },
    examples: [
      { product: 'a reusable steel water bottle', audience: 'commuters', tone: 'upbeat', output: 'Cold for the ride in, cold for the ride home.' },
      { product: 'a budgeting app', audience: 'students', tone: 'friendly', output: 'Know where your money went before it goes.' },
      { product: 'a wool hiking sock', audience: 'trail runners', tone: 'confident', output: 'Miles of dry feet, one pair at a time.' },
    ],
  },
  {
    id: 'headline',
    name: 'Ad headline',
    description: 'A headline for an ad or landing page.',
    outputLabel: 'Headline',
    params: { maxNewTokens: 20, numReturnSequences: 5, temperature: 0.85, topK: 50, topP: 0.95, repetitionPenalty: 1.15, stop: ['\n'] },
    examples: [
      { product: 'a meal-kit delivery service', audience: 'busy parents', tone: 'warm', output: 'Dinner Is Handled. Tonight and Every Night.' },
      { product: 'noise-cancelling headphones', audience: 'open-office workers', tone: 'direct', output: 'Hear Your Own Thoughts Again' },
      { product: 'a language-learning podcast', audience: 'travellers', tone: 'playful', output: 'Order Coffee in Lisbon Without Pointing' },
    ],
  },
  {
    id: 'blurb',
    name: 'Product blurb',
    description: 'Two sentences for a product page.',
    outputLabel: 'Description',
    params: { maxNewTokens: 60, numReturnSequences: 3, temperature: 0.8, topK: 40, topP: 0.92, repetitionPenalty: 1.15, stop: ['\n'] },
    examples: [
      {
        product: 'a cast-iron skillet',
        audience: 'home cooks',
        tone: 'honest',
        output: 'Pre-seasoned and ready for a lifetime of Sunday breakfasts. It goes from stovetop to oven to table without complaint.',
      },
      {
        product: 'a desk lamp with adjustable warmth',
        audience: 'remote workers',
        tone: 'calm',
        output: 'Cool light for focus in the morning, warm light for winding down at night. One touch switches between them.',
      },
    ],
  },
];

/** Names a missing field, or null when the fields are usable. */
export function missingField(fields: MarketingFields): keyof MarketingFields | null {
  for (const key of ['product', 'audience', 'tone'] as const) {
    if (oneLine(fields[key]).length === 0) return key;
  }
  return null;
}

/**
 * Builds the few-shot prompt: every example as a block, then the user's
 * fields and the open output label. Line breaks in fields are flattened
 * because a newline inside a field would break the pattern the model copies.
 */
export function buildFewShotPrompt(template: MarketingTemplate, fields: MarketingFields): string {
  const block = (f: MarketingFields): string =>
    `Product: ${oneLine(f.product)}\nAudience: ${oneLine(f.audience)}\nTone: ${oneLine(f.tone)}\n${template.outputLabel}:`;
  const examples = template.examples.map((e) => `${block(e)} ${oneLine(e.output)}`);
  return [...examples, block(fields)].join('\n\n');
}

/** How a template's raw candidate becomes copy: the model's leading space and trailing newline go. */
export function cleanTemplateOutput(text: string): string {
  return text.replace(/\n[\s\S]*$/, '').trim();
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
