import { describe, expect, it } from 'vitest';
import { checkedText, decodeTextFile, NotTextFileError } from '../../../src/renderer/src/lib/files';

const encode = (text: string) => new TextEncoder().encode(text);

describe('decodeTextFile', () => {
  it('refuses a PNG (binary data) naming the file, and creates nothing from it', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    expect(() => decodeTextFile('photo.png', png)).toThrow(NotTextFileError);
    expect(() => decodeTextFile('photo.png', png)).toThrow(/photo\.png is not a text file/);
  });

  it('refuses data full of control characters even without a NUL byte', () => {
    const bytes = new Uint8Array(200).map((_, i) => (i % 3 === 0 ? 0x01 : 0x41));
    expect(() => decodeTextFile('blob.bin', bytes)).toThrow(NotTextFileError);
  });

  it('reads UTF-8 with Windows line ends and a byte-order mark as plain "\\n" text', () => {
    expect(decodeTextFile('notes.txt', encode('\uFEFFFirst line\r\nSecond — line\r\nold Mac\rend'))).toBe('First line\nSecond — line\nold Mac\nend');
  });

  it('reads text that is not UTF-8 as Windows-1252, as old Windows editors wrote it', () => {
    // Bytes whose Windows-1252 and Latin-1 meanings agree: Node decodes "windows-1252" as Latin-1, browsers do not.
    expect(decodeTextFile('latin.txt', new Uint8Array([0x43, 0x61, 0x66, 0xe9, 0x20, 0x63, 0x72, 0xe8, 0x6d, 0x65]))).toBe('Café crème');
  });
});

describe('checkedText', () => {
  it('refuses decoded text with NULs or mostly replacement characters, and normalizes line ends', () => {
    expect(() => checkedText('x.png', 'PNG\u0000\u0000IHDR')).toThrow(NotTextFileError);
    expect(() => checkedText('x.bin', '\uFFFD'.repeat(10) + 'abc')).toThrow(NotTextFileError);
    expect(checkedText('ok.txt', 'a\r\nb')).toBe('a\nb');
  });
});
