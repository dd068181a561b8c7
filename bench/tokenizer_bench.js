// The npm GPT-2 tokenizers timed on the same files as tokenizer_bench.c:
// MB/s and tokens/s, single-threaded, best of several runs of >= 0.5 s, in
// wall-clock and in CPU time (process.cpuUsage, so it includes V8's
// helper threads, e.g. the garbage collector).
// gpt-3-encoder's merge loop is quadratic in the piece length, so it only
// gets the first 100 kB of each file (its figure is still per byte).
'use strict';
const fs = require('fs');
const path = require('path');

const tokenizers = [];
function add(name, load) {
  try {
    tokenizers.push({ name, encode: load() });
  } catch (e) {
    console.log(`${name}: not installed (${e.code || e.message})`);
  }
}
add('gpt-tokenizer', () => {
  const t = require('gpt-tokenizer/cjs/encoding/r50k_base');
  return (s) => t.encode(s, { disallowedSpecial: new Set() });
});
add('tiktoken', () => { // OpenAI's Rust tiktoken, compiled to WebAssembly
  const t = require('tiktoken').get_encoding('gpt2');
  return (s) => t.encode(s, [], []);
});
add('js-tiktoken', () => {
  const t = require('js-tiktoken').getEncoding('gpt2');
  return (s) => t.encode(s, [], []);
});
add('gpt-3-encoder', () => {
  const t = require('gpt-3-encoder');
  return (s) => t.encode(s.slice(0, 100000));
});

for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  for (const { name, encode } of tokenizers) {
    const sample = name === 'gpt-3-encoder' ? text.slice(0, 100000) : text;
    const bytes = Buffer.byteLength(sample, 'utf8');
    let best = Infinity, bestCpu = Infinity, n = 0;
    encode(sample); // warm-up (and caches, as a long-running user would have)
    for (let run = 0; run < 3; run++) {
      let reps = 0;
      const start = process.hrtime.bigint();
      const startCpu = process.cpuUsage();
      let elapsed;
      do {
        n = encode(sample).length;
        reps++;
        elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      } while (elapsed < 0.5);
      const cpu = process.cpuUsage(startCpu);
      best = Math.min(best, elapsed / reps);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6 / reps);
    }
    const f = (x, digits, width) => x.toFixed(digits).padStart(width);
    console.log(`${name.padEnd(14)} ${path.basename(file).padEnd(12)} ` +
      `${f(bytes / best / 1e6, 2, 8)} ${f(bytes / bestCpu / 1e6, 2, 8)} ` +
      `${f(n / best, 0, 11)} ${f(n / bestCpu, 0, 11)} ` +
      `${String(bytes).padStart(9)} ${String(n).padStart(9)}`);
  }
}
