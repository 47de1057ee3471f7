/** The marketing template form: which template, its fields, and the few-shot prompt they make. */
import { buildFewShotPrompt, marketingTemplates, missingField, type MarketingFields, type MarketingTemplate } from '../lib/presets';

/** Form state for the marketing presets. */
export class TemplateForm {
  #templateId = $state(marketingTemplates[0]?.id ?? '');
  #fields = $state.raw<MarketingFields>({ product: '', audience: '', tone: '' });
  #template = $derived<MarketingTemplate | null>(marketingTemplates.find((t) => t.id === this.#templateId) ?? null);
  #prompt = $derived(this.#template ? buildFewShotPrompt(this.#template, this.#fields) : '');
  #missing = $derived(missingField(this.#fields));

  get templateId(): string {
    return this.#templateId;
  }
  get template(): MarketingTemplate | null {
    return this.#template;
  }
  get fields(): MarketingFields {
    return this.#fields;
  }
  /** The few-shot prompt the fields make. */
  get prompt(): string {
    return this.#prompt;
  }
  /** The first empty field, or null when the form is complete. */
  get missing(): keyof MarketingFields | null {
    return this.#missing;
  }

  /** Picks a template. */
  choose(id: string): void {
    this.#templateId = id;
  }

  /** Edits one field. */
  setField(key: keyof MarketingFields, value: string): void {
    this.#fields = { ...this.#fields, [key]: value };
  }
}
