/** `inkwell --help` and per-command help texts. */

const MAIN = `inkwell — run GPT-2 family models locally (Inkwell's engine and server)

Usage: inkwell <command> [options]

Commands:
  models pull <alias|owner/name>  download a GPT-2 model from the Hugging Face Hub (gpt2, gpt2-large, …)
  models catalog [--json]         the models pull offers, with download size and memory per precision
  models cache [--json]           what the local Hugging Face cache holds, and what can be imported
  models import <dir> --id <id> [--precision int8,int4]
                                  import a Hugging Face GPT-2 checkpoint folder (safetensors)
  models import --from-cache <repo>  import from the Hugging Face cache without copying the weights
  models convert <id> --precision fp16|int8|int4 [--json]
                                  add a precision variant (measured against fp32 when made)
  models list [--json]            list imported models and their variants
  models remove <id> [--precision P]   delete a model, or only one of its variants
  generate --model <id> --prompt <text> [options]
                                  continue a prompt (streams text; --json for one JSON object)
  compare --models a,b[,c,d] --prompt <text> [options]
                                  the same prompt, seed and parameters on 2-4 models, with speed,
                                  memory, the perplexity matrix and the first divergence
  batch --model <id> --prompts <file> --out <file.jsonl> [options]
                                  generate for every prompt of a .txt, .jsonl or .csv file
  logits --model <id> --prompt <text> [--all] --json
                                  next-token logits of a prompt
  tokenize --model <id> --text <text> --json
                                  token ids and tokens of a text (--bert: BERT WordPiece)
  attention --model <id> --text <text> [--layer N] --json
                                  attention weights of every layer and head
  probs --model <id> --text <text> --json
                                  log-probability of each token and the top 10 alternatives
  lens --model <id> --text <text> [--layer N] [--top K] --json
                                  the logit lens: each layer's prediction at each position
  serve [--port N] [--host H]     serve the app and its API over HTTP for a browser
  help [command]                  show help for a command

Options:
  -h, --help      show help (also after a command: inkwell generate --help)
  -v, --version   print the version

Data lives in $INKWELL_HOME (default: the platform's user-data folder for Inkwell).
Exit codes: 0 success, 2 bad input or refused request (message on stderr), 1 internal error.
`;

const MODELS = `Usage:
  inkwell models pull <alias|owner/name> [--id <id>] [--json]
  inkwell models catalog [--json]
  inkwell models cache [--json]
  inkwell models import <dir> --id <id> [--precision fp16,int8,int4] [--json]
  inkwell models import --from-cache <owner/name|alias> [--id <id>] [--json]
  inkwell models convert <id> --precision fp16|int8|int4[,…] [--no-measure] [--json]
  inkwell models list [--json]
  inkwell models remove <id> [--precision fp16|int8|int4]

pull     downloads a GPT-2 model from the Hugging Face Hub and imports it. <alias> is one of
         gpt2, distilgpt2, gpt2-medium, gpt2-large, gpt2-xl (openai-community/… and
         distilbert/distilgpt2), or give any owner/name GPT-2 repository (fine-tunes). Only the
         files a model needs are fetched (config.json, the safetensors weights, the tokenizer,
         generation_config.json); each is checked against the Hub's sha256 before use. An
         interrupted pull (Ctrl-C, a dropped connection) resumes where it stopped when run
         again. "bert-base-uncased" fetches BERT's tokenizer files (vocab.txt, tokenizer.json,
         tokenizer_config.json) into <home>/tokenizers/bert-base-uncased for the tokens view.
         The id defaults to the alias or the repository's name.
         Environment: HF_ENDPOINT (default https://huggingface.co, e.g. a mirror), HF_TOKEN (sent
         as a bearer token to that endpoint only, for gated or private repositories).
         A repository with only pytorch_model.bin is refused with the command that converts it.
catalog  the models pull offers: parameters, download size, and memory per precision (fp32, fp16,
         int8, int4), estimated for one sequence over the whole context window
cache    lists the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
         ~/.cache/huggingface/hub): GPT-2 models that can be imported, and every other repository
         with the reason it cannot
import   validates a Hugging Face GPT-2 folder (config.json, model.safetensors in F32/F16/BF16,
         tokenizer.json or vocab.json + merges.txt), scans the weights for NaN/Inf, copies it into
         the store and builds its ONNX graphs. With --from-cache <repo>, imports that repository
         from the Hugging Face cache, hard-linking its weights instead of copying them (a copy
         only if the cache is on another disk); the id defaults to the alias or the repository's
         name. Pickle checkpoints (pytorch_model.bin) are refused: convert them to safetensors
         with python -c "from transformers import GPT2LMHeadModel as M, AutoTokenizer as T;
         M.from_pretrained('IN').save_pretrained('OUT', safe_serialization=True);
         T.from_pretrained('IN').save_pretrained('OUT')". Ids use letters, digits, ".", "_", "-".
         --precision also makes those variants right after the import (as convert does).
convert  writes a precision variant beside the fp32 graphs: int8 and int4 store every weight
         matrix, lm_head included, as 8- or 4-bit blocks of 32 with one scale each (and a zero
         point for int4; com.microsoft MatMulNBits, for the CPU); fp16 stores them as float16 with the
         residual stream and layer norms kept in float32 (for GPUs). Each variant is then
         measured against fp32 on the same weights: mean KL divergence of the next-token
         distribution, greedy agreement and perplexity on a fixed Brown-corpus sample, and
         decode speed on this machine (--no-measure skips that). Ctrl-C cancels and leaves
         nothing behind. --json prints the variants made.
list     the imported models and their variants with sizes and measured figures
         (--json: an array of objects with id, name, sizes, dtype, origin, variants, …)
remove   deletes a model from the store (weights shared with the Hugging Face cache stay there);
         with --precision only that variant

Progress goes to stderr: a bar on a terminal, plain lines otherwise. Ctrl-C stops (exit code
130); nothing half-done is ever listed as a model. Failures exit with code 2 and the reason.
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
  --draft-tokens N|auto      tokens the draft proposes per pass (1-16, or auto: chosen each round
                             from measured speeds and acceptance; default auto)
  --draft-precision P        the draft's weights (default: as --precision); the model's own int4
                             variant (--draft-model <model> --draft-precision int4) is a self-draft
  --precision auto|fp32|fp16|int8|int4   weights to run with (default auto: int8 on the CPU and
                             fp16 on a GPU when the model has that variant, else fp32)
  --json                     print one JSON object instead of streaming:
                             {model, precision, device, seed, prompt_tokens, truncated_prompt_tokens,
                              sequences: [{text, token_ids, finish_reason}],
                              timings: {load_ms, prefill_ms, decode_ms, tokens_per_second},
                              speculative (with --draft-model): {draft_model, draft_precision, draft_tokens, proposed,
                                accepted, acceptance_rate, target_passes}}

A prompt longer than the context window is cut from the left (reported on stderr and in the
JSON). Ctrl-C stops generating and prints what was written so far (exit code 130).
`;

const COMPARE = `Usage: inkwell compare --models a,b[,c,d] --prompt <text> [options]

Runs <text> on each model (a column) with the same seed and parameters. Columns that run on the
same device run one after another, so their speed figures do not disturb each other; columns on
different devices run at the same time. Then every column's model scores every column's output:
the perplexity matrix (row: scoring model, column: output) and the first token where the outputs
differ, with each model's probability for each column's token there.

Options:
  --precisions P[,P…]        auto|fp32|fp16|int8|int4: one for every column, or one per model
  --devices D[,D…]           auto|cpu|webgpu|cuda: one for every column, or one per model
                             (a device that is not available falls back to the cpu, reported)
  --max-new-tokens, --greedy, --temperature, --top-k, --top-p, --repetition-penalty,
  --no-repeat-ngram-size, --seed, --stop   as for generate (shared by every column)
  --json                     one JSON object: {prompt, seed, columns: [{model, precision,
                             requested_device, device, device_fallback_reason?, status, text,
                             token_ids, ttft_ms, tokens_per_second, total_ms, load_ms, peak_rss_mb,
                             started_at_ms, ended_at_ms, …}], perplexity, divergence}
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
  --precision auto|fp32|fp16|int8|int4   weights to run (default auto: the device's best variant)
  --concurrency N   rows in flight at once (1-64, default 8)
  --resume          continue an --out file of an earlier run of the same prompts file: rows already
                    written are skipped, a partly written last line is removed; without --resume an
                    existing non-empty --out is refused
A prompts file may hold at most 100 000 rows and 64 MiB (more is refused: split it).
Progress goes to stderr: a bar on a terminal, a line every 10% otherwise. Ctrl-C stops after
writing the rows that are done (exit code 130); --resume continues from there.
`;

const LOGITS = `Usage: inkwell logits --model <id> --prompt <text> [--all] --json

Prints {precision, token_ids, logits_last}: the prompt's token ids and the vocabulary-sized logits
at its last position; with --all also logits: one row per prompt position. Without --json, prints
the ten most likely next tokens.
  --device auto|cpu|webgpu|cuda   where to run (default auto)
  --precision auto|fp32|fp16|int8|int4   weights to run with (default auto, as for generate)
`;

const TOKENIZE = `Usage: inkwell tokenize --model <id> --text <text> --json
       inkwell tokenize --bert --text <text> [--json]

Prints {ids, tokens}: the token ids of <text> and each token's text. Without --json, prints one
"id<TAB>token" line per token.
  --bert   BERT WordPiece (bert-base-uncased) instead of a model's GPT-2 tokenizer, with [CLS] and
           [SEP]; without --json the tokens on one line. Its files are read from
           $INKWELL_HOME/tokenizers/bert-base-uncased (inkwell models pull bert-base-uncased).
`;

const INSPECT_COMMON = `  --device auto|cpu|webgpu|cuda   where to run (default auto)
The text must fit the model's context window (nothing is cut). Tokens that hold only part of a
character are written as their bytes, e.g. "<0xE2><0x80>".
`;

const ATTENTION = `Usage: inkwell attention --model <id> --text <text> [--layer N] --json

Prints {tokens, token_ids, layers, heads, attentions}: attentions[layer][head][i][j] is how much
token i attends to token j (softmax weights: each row sums to 1, and j > i is always 0). With
--layer N, attentions holds that one layer and "layer": N says which. Values are kept as float16
(about 3 significant digits). Without --json, prints for each head the three tokens each token
attends to most.
  --layer N    one layer, 0 to layers - 1
${INSPECT_COMMON}`;

const PROBS = `Usage: inkwell probs --model <id> --text <text> --json

Prints {tokens, token_ids, positions: [{logprob, top: [{token, id, logprob}]}]}. positions[k] is
about token k+1 given tokens 0..k: logprob is the natural-log probability the model gave the token
that actually follows, and top the 10 tokens it found most likely there. The first token has no
entry (nothing comes before it), so there is one position fewer than tokens. Without --json,
prints one line per token with its probability and the three most likely alternatives.
${INSPECT_COMMON}`;

const LENS = `Usage: inkwell lens --model <id> --text <text> [--layer N] [--top K] --json

The logit lens: the residual stream after each block, read through the final LayerNorm and the
output embedding, shows where in the depth the model settles on its next token. Prints
{tokens, token_ids, layers, k, lens: [{layer, positions: [{logprob, entropy, top: [{token, id, logprob}]}]}]}.
lens[n].positions[p] is what block lens[n].layer predicts after token p: logprob is the
log-probability there of the token that actually follows (null after the last token), entropy
is in nats, top the K most likely tokens. The last layer is the model's own output.
  --layer N    one layer, 0 to layers - 1 (default: every layer)
  --top K      tokens per position, 1 to 100 (default 5)
${INSPECT_COMMON}`;

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
  compare: COMPARE,
  batch: BATCH,
  logits: LOGITS,
  tokenize: TOKENIZE,
  attention: ATTENTION,
  probs: PROBS,
  lens: LENS,
  serve: SERVE,
};
