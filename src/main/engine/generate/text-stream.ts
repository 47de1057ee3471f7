/**
 * Byte-level BPE tokens to text, incrementally. A GPT-2 token is a run of
 * bytes that may end inside a UTF-8 character (emoji, accents, CJK span
 * several tokens), so bytes go through a streaming UTF-8 decoder that holds an
 * incomplete character back until its last byte arrives.
 */

/** The raw bytes of one token (Gpt2Tokenizer.tokenBytes). */
export type TokenBytes = (id: number) => Uint8Array;

/** Decodes one sequence's tokens as they arrive; the pieces concatenate to the whole text. */
export class TokenTextStream {
  readonly #tokenBytes: TokenBytes;
  readonly #decoder = new TextDecoder('utf-8');

  constructor(tokenBytes: TokenBytes) {
    this.#tokenBytes = tokenBytes;
  }

  /** Text completed by token `id` (possibly empty while a character is still incomplete). */
  push(id: number): string {
    return this.#decoder.decode(this.#tokenBytes(id), { stream: true });
  }

  /** Ends the sequence: bytes of an unfinished character become U+FFFD, as a full decode would give. */
  end(): string {
    return this.#decoder.decode();
  }
}
