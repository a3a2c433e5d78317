// https_openai.mjs - an ordinary program using the `openai` npm package with
// its defaults (the key from OPENAI_API_KEY), run unchanged by t_https.
// usage: node https_openai.mjs URL MODEL   (URL: .../v1/chat/completions)
// Prints "<status> <model of the answer>" (or "<status> error <message>");
// exits 0 only for a 200 with choices, 1 otherwise, 2 if no answer came.
import OpenAI from 'openai';

const [url, model] = process.argv.slice(2);
const baseURL = url.replace(/\/chat\/completions$/, '');
const client = new OpenAI({ baseURL, maxRetries: 0, timeout: 20000 });
try {
  const r = await client.chat.completions.create({
    model, temperature: 0, messages: [{ role: 'user', content: 'hello from the openai package' }] });
  console.log(200, r.model);
  process.exit(r.choices ? 0 : 1);
} catch (e) {
  if (e.status) {
    console.log(e.status, 'error', e.error?.message ?? e.message);
    process.exit(1);
  }
  console.log('0 error ' + e.name + ': ' + e.message + (e.cause ? ' (' + e.cause.message + ')' : ''));
  process.exit(2);
}
