// openai_client.mjs - an ordinary program using the `openai` npm package,
// run unchanged under llmroute by tests/t_node.sh.
// usage: node openai_client.mjs BASE_URL MODEL [N] [stream]
// Prints one line per request: "<status> <model in the answer>" or
// "<status> error <message>".
import OpenAI from 'openai';

const [baseURL, model, n = '1', mode = ''] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'sk-app-key', maxRetries: 0, timeout: 20000 });
const messages = [{ role: 'user', content: 'Define X' }];

for (let i = 0; i < Number(n); i++) {
  try {
    if (mode === 'stream') {
      const s = await client.chat.completions.create({
        model, messages, stream: true, stream_options: { include_usage: true } });
      let last = '';
      for await (const chunk of s) last = chunk.model || last;
      console.log(200, last);
    } else {
      const r = await client.chat.completions.create({ model, messages });
      console.log(200, r.model);
    }
  } catch (e) {
    console.log(e.status ?? 0, 'error', e.error?.message ?? e.message);
  }
}
