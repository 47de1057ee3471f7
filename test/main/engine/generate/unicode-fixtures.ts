/** Texts whose characters take 2–4 UTF-8 bytes and span several GPT-2 tokens: accents, emoji (modifiers, ZWJ, flags), CJK, math letters. */
export const TRICKY_TEXTS: readonly string[] = [
  'café naïve résumé — “quotes” ½',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇯🇵 heart ❤️',
  '日本語のテキスト、中文文本，한국어 텍스트',
  'mixed: Zürich 東京 🚀 Ελληνικά русский ✓',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 and e\u0301 (combining)',
];
