/** `inkwell --help` and per-command help texts. */

const MAIN = `inkwell — run GPT-2 family models locally (Inkwell's engine and server)

Usage: inkwell <command> [options]

Commands:
  models import <dir> --id <id> [--precision int8,int4]
                                  import a Hugging Face GPT-2 checkpoint folder (safetensors)
  models convert <id> --precision fp16|int8|int4 [--json]
                                  add a precision variant (measured against fp32 when made)
  models list [--json]            list imported models and their variants
  models remove <id> [--precision P]   delete a model, or only one of its variants
  generate --model <id> --prompt <text> [options]
                                  continue a prompt (streams text; --json for one JSON object)
  logits --model <id> --prompt <text> [--all] --json
                                  next-token logits of a prompt
  tokenize --model <id> --text <text> --json
                                  token ids and tokens of a text
  serve [--port N] [--host H]     serve the app and its API over HTTP for a browser
  help [command]                  show help for a command

Options:
  -h, --help      show help (also after a command: inkwell generate --help)
  -v, --version   print the version

Data lives in $INKWELL_HOME (default: the platform's user-data folder for Inkwell).
Exit codes: 0 success, 2 bad input or refused request (message on stderr), 1 internal error.
`;

const MODELS = `Usage:
  inkwell models import <dir> --id <id> [--precision fp16,int8,int4] [--json]
  inkwell models convert <id> --precision fp16|int8|int4[,…] [--no-measure] [--json]
  inkwell models list [--json]
  inkwell models remove <id> [--precision fp16|int8|int4]

import   validates a Hugging Face GPT-2 folder (config.json, model.safetensors in F32/F16/BF16,
         tokenizer.json or vocab.json + merges.txt), copies it into the store and builds its ONNX
         graphs. Pickle checkpoints (pytorch_model.bin) are refused: convert them to safetensors
         first. Ids use letters, digits, ".", "_" and "-".
         --precision also makes those variants right after the import (as convert does).
convert  writes a precision variant beside the fp32 graphs: int8 and int4 store every weight
         matrix, lm_head included, as 8- or 4-bit blocks of 32 with one scale each (and a zero
         point for int4; com.microsoft MatMulNBits, for the CPU); fp16 stores them as float16 with the
         residual stream and layer norms kept in float32 (for GPUs). Each variant is then
         measured against fp32 on the same weights: mean KL divergence of the next-token
         distribution, greedy agreement and perplexity on a fixed Brown-corpus sample, and
         decode speed on this machine (--no-measure skips that). A progress bar shows on a
         terminal; Ctrl-C cancels and leaves nothing behind. --json prints the variants made.
list     the imported models and their variants with sizes and measured figures
         (--json: an array of objects with id, name, sizes, dtype, variants, …)
remove   deletes a model from the store; with --precision only that variant
`;

const GENERATE = `Usage: inkwell generate --model <id> --prompt <text> [options]

Continues <text> with the model and streams the new text to stdout. With several sequences
the first streams as it is written and the others follow, each under a header.

Options (defaults follow the Hugging Face text-generation pipeline):
  --max-new-tokens N         new tokens per sequence (default 50, at most 1024)
  --max-length N             prompt + new tokens, as the notebook's max_length; the smaller bound wins
  --num-return-sequences K   sequences to generate in one batch (default 1, at most 8)
  --greedy                   always take the most likely token (no sampling)
  --temperature T            sampling temperature, > 0 and ≤ 10 (default 1.0)
  --top-k K                  sample from the K most likely tokens; 0 turns it off (default 50)
  --top-p P                  nucleus sampling, 0 < P ≤ 1; 1 turns it off (default 1.0)
  --repetition-penalty R     > 1 discourages tokens already in the text (default 1.0)
  --no-repeat-ngram-size N   never repeat an n-gram of this size; 0 turns it off (default 0)
  --seed S                   0 … 4294967295; the same seed, model, prompt and options give the
                             same text (a random seed is picked and reported otherwise)
  --stop <string>            stop a sequence before this text (repeatable, up to 8)
  --device auto|cpu|webgpu|cuda   where to run (default auto: CUDA, then WebGPU, then CPU)
  --precision auto|fp32|fp16|int8|int4   weights to run with (default auto: int8 on the CPU and
                             fp16 on a GPU when the model has that variant, else fp32)
  --json                     print one JSON object instead of streaming:
                             {model, precision, device, seed, prompt_tokens, truncated_prompt_tokens,
                              sequences: [{text, token_ids, finish_reason}],
                              timings: {load_ms, prefill_ms, decode_ms, tokens_per_second}}

A prompt longer than the context window is cut from the left (reported on stderr and in the
JSON). Ctrl-C stops generating and prints what was written so far (exit code 130).
`;

const LOGITS = `Usage: inkwell logits --model <id> --prompt <text> [--all] --json

Prints {precision, token_ids, logits_last}: the prompt's token ids and the vocabulary-sized logits
at its last position; with --all also logits: one row per prompt position. Without --json, prints
the ten most likely next tokens.
  --device auto|cpu|webgpu|cuda   where to run (default auto)
  --precision auto|fp32|fp16|int8|int4   weights to run with (default auto, as for generate)
`;

const TOKENIZE = `Usage: inkwell tokenize --model <id> --text <text> --json

Prints {ids, tokens}: the token ids of <text> and each token's text. Without --json, prints one
"id<TAB>token" line per token.
`;

const SERVE = `Usage: inkwell serve [--port N] [--host H]

Serves the Inkwell app and its API over HTTP and WebSocket for a browser. The first line printed
is the URL to open, with its access token: http://HOST:PORT/?token=TOKEN
  --port N    port to listen on; 0 (the default) picks a free one
  --host H    interface to bind (default 127.0.0.1, this machine only)
Stops on Ctrl-C.
`;

/** Help text per command name ('' is the overview). */
export const HELP: Readonly<Record<string, string>> = {
  '': MAIN,
  models: MODELS,
  generate: GENERATE,
  logits: LOGITS,
  tokenize: TOKENIZE,
  serve: SERVE,
};
