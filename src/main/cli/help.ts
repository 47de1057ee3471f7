/** `inkwell --help` and per-command help texts. */

const MAIN = `inkwell — run GPT-2 family models locally (Inkwell's engine and server)

Usage: inkwell <command> [options]

Commands:
  models import <dir> --id <id>   import a Hugging Face GPT-2 checkpoint folder (safetensors)
  models list [--json]            list imported models
  models remove <id>              delete an imported model
  generate --model <id> --prompt <text> [options]
                                  continue a prompt (streams text; --json for one JSON object)
  batch --model <id> --prompts <file> --out <file.jsonl> [options]
                                  generate for every prompt of a .txt, .jsonl or .csv file
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
  inkwell models import <dir> --id <id> [--json]
  inkwell models list [--json]
  inkwell models remove <id>

import   validates a Hugging Face GPT-2 folder (config.json, model.safetensors in F32/F16/BF16,
         tokenizer.json or vocab.json + merges.txt), copies it into the store and builds its ONNX
         graphs. Pickle checkpoints (pytorch_model.bin) are refused: convert them to safetensors
         first. Ids use letters, digits, ".", "_" and "-".
list     the imported models (--json: an array of objects with id, name, sizes, dtype, …)
remove   deletes a model from the store
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
  --top-logprobs N           with --json: add each token's log-probability (token_logprobs, natural
                             log under the model's raw distribution: temperature 1, before any
                             sampling setting) and the N most likely alternatives (top_logprobs,
                             0-20) to every sequence
  --draft-model <id>         speculative decoding: a stored model with the same vocabulary (e.g.
                             gpt2 for gpt2-large) proposes tokens that <model> checks in one pass;
                             greedy output is unchanged, sampled output keeps its distribution;
                             the acceptance rate is reported
  --draft-tokens N           tokens the draft proposes per pass (1-16, default 4)
  --json                     print one JSON object instead of streaming:
                             {model, device, seed, prompt_tokens, truncated_prompt_tokens,
                              sequences: [{text, token_ids, finish_reason}],
                              timings: {load_ms, prefill_ms, decode_ms, tokens_per_second},
                              speculative (with --draft-model): {draft_model, draft_tokens, proposed,
                                accepted, acceptance_rate, target_passes}}

A prompt longer than the context window is cut from the left (reported on stderr and in the
JSON). Ctrl-C stops generating and prints what was written so far (exit code 130).
`;

const BATCH = `Usage: inkwell batch --model <id> --prompts <file.txt|file.jsonl|file.csv> --out <file.jsonl>
                    [generation options] [--concurrency N] [--resume]

Generates for every row of the prompts file and appends one JSON line per row to --out as each
row ends. Rows run together (up to --concurrency at once, default 8) and share the model's decode
steps; each row's output is the same as \`inkwell generate\` with the same seed.

Prompts file:
  .txt    one prompt per line
  .jsonl  one JSON object per line with a "prompt" string
  .csv    a header row with a "prompt" column (RFC 4180: quoted fields may hold commas, "" and newlines)
  JSONL and CSV rows may set their own parameters in fields named like the options below:
  max_new_tokens, max_length, num_return_sequences, temperature, top_k, top_p,
  repetition_penalty, no_repeat_ngram_size, seed, stop (one string, or a JSON array), greedy
  (true/false). Other fields are copied to the output. A row that cannot run (empty, malformed
  JSON, longer than the context window, an invalid parameter) is reported on stderr with its line
  number and skipped.

Output line: {index, line, fields, model, device, seed, prompt_tokens, truncated_prompt_tokens,
  sequences: [{text, token_ids, finish_reason, token_logprobs}], timings}
  index is the row's 0-based position in the prompts file, line the line it starts on, fields the
  row as given; token_logprobs are natural-log probabilities under the model's raw distribution
  (temperature 1, before any sampling setting). Lines are in the order rows finish.

Options:
  generation options as for \`inkwell generate\` (they apply to rows that do not set their own);
  with --seed S, row i gets seed S + i unless it sets one, so a re-run gives the same text
  --concurrency N   rows in flight at once (1-64, default 8)
  --resume          continue an --out file of an earlier run of the same prompts file: rows already
                    written are skipped, a partly written last line is removed; without --resume an
                    existing non-empty --out is refused
Progress goes to stderr: a bar on a terminal, a line every 10% otherwise. Ctrl-C stops after
writing the rows that are done (exit code 130); --resume continues from there.
`;

const LOGITS = `Usage: inkwell logits --model <id> --prompt <text> [--all] --json

Prints {token_ids, logits_last}: the prompt's token ids and the vocabulary-sized logits at its
last position; with --all also logits: one row per prompt position. Without --json, prints the
ten most likely next tokens.
  --device auto|cpu|webgpu|cuda   where to run (default auto)
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
  batch: BATCH,
  logits: LOGITS,
  tokenize: TOKENIZE,
  serve: SERVE,
};
