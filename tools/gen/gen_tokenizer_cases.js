// Second-opinion GPT-2 tokenizers for tools/gen/gen_tokenizer_cases.py: reads one
// JSON object {text, special} per line on stdin, writes one JSON object per
// line with the ids from the npm packages gpt-3-encoder, js-tiktoken (gpt2)
// and gpt-tokenizer (r50k_base), whose pre-tokenizers run on V8's regex
// engine, and tiktoken (gpt2), OpenAI's Rust tokenizer compiled to
// WebAssembly, whose regex engine is Rust's. Run with NODE_PATH pointing at
// their node_modules.
'use strict';
const readline = require('readline');
const gpt3Encoder = require('gpt-3-encoder');
const jsTiktoken = require('js-tiktoken').getEncoding('gpt2');
const gptTokenizer = require('gpt-tokenizer/cjs/encoding/r50k_base');
const tiktokenRust = require('tiktoken').get_encoding('gpt2');

const lines = readline.createInterface({ input: process.stdin });
const out = [];
lines.on('line', (line) => {
  const { text, special } = JSON.parse(line);
  const answer = {};
  if (special) {
    // <|endoftext|> as the special token: gpt-3-encoder has no such option,
    // and gpt-tokenizer 4.0.0's r50k_base still encodes it as text.
    answer.gpt3 = answer.gpttok = null;
    answer.tiktoken = jsTiktoken.encode(text, 'all');
    answer.rust = Array.from(tiktokenRust.encode(text, 'all'));
  } else {
    answer.gpt3 = gpt3Encoder.encode(text);
    answer.tiktoken = jsTiktoken.encode(text, [], []);
    answer.gpttok = gptTokenizer.encode(text, { disallowedSpecial: new Set() });
    answer.rust = Array.from(tiktokenRust.encode(text, [], []));
  }
  out.push(JSON.stringify(answer));
});
lines.on('close', () => process.stdout.write(out.join('\n') + '\n'));
