// Stands in for `sharp` in Inkwell's bundle. @huggingface/transformers imports sharp at load for
// its image utilities; Inkwell uses only its text tokenizers, and sharp with its libvips binaries
// is ~20 MB the installer need not carry (electron-builder.yml excludes them).
export default function sharp() {
  throw new Error('image processing is not part of Inkwell (sharp is not bundled)');
}
