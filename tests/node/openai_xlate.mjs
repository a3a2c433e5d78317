// openai_xlate.mjs - an ordinary program using the `openai` npm package,
// run unchanged under llmroute by tests/t_xlate_e2e.sh against a route
// whose target speaks another API.
// usage: node openai_xlate.mjs BASE_URL MODEL [stream|tool|error]
// Prints one JSON line: {status, text, tools, finish, usage} or
// {status, error, type} for an error the SDK raised.
import OpenAI from 'openai';

const [baseURL, model, mode = ''] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'sk-app-key', maxRetries: 0, timeout: 20000 });
const messages = [{ role: 'user', content: 'Say hello' }];
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: {
  type: 'object', properties: { q: { type: 'string' } } } } }];

try {
  if (mode === 'stream') {
    const s = await client.chat.completions.create({
      model, messages, stream: true, stream_options: { include_usage: true } });
    let text = '', finish = null, usage = null;
    for await (const c of s) {
      if (c.usage) usage = [c.usage.prompt_tokens, c.usage.completion_tokens];
      for (const ch of c.choices) {
        text += ch.delta?.content ?? '';
        finish = ch.finish_reason ?? finish;
      }
    }
    console.log(JSON.stringify({ status: 200, text, tools: [], finish, usage }));
  } else {
    const r = await client.chat.completions.create(
      mode === 'tool' ? { model, messages, tools } : { model, messages });
    const m = r.choices[0].message;
    console.log(JSON.stringify({ status: 200, text: m.content ?? '',
      tools: (m.tool_calls ?? []).map(c => [c.function.name, JSON.parse(c.function.arguments)]),
      finish: r.choices[0].finish_reason,
      usage: r.usage ? [r.usage.prompt_tokens, r.usage.completion_tokens] : null }));
  }
} catch (e) {
  console.log(JSON.stringify({ status: e.status ?? 0, error: e.error?.message ?? e.message,
    type: e.constructor.name }));
}
