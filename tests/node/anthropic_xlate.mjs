// anthropic_xlate.mjs - an ordinary program using the Anthropic SDK
// (`@anthropic-ai/sdk`), run unchanged under llmroute by
// tests/t_xlate_e2e.sh against a route whose target speaks another API.
// usage: node anthropic_xlate.mjs BASE_URL MODEL [stream|tool|error]
// Prints one JSON line: {status, text, tools, stop, usage} or
// {status, error, type} for an error the SDK raised.
import Anthropic from '@anthropic-ai/sdk';

const [baseURL, model, mode = ''] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: 'sk-ant-app-key', maxRetries: 0, timeout: 20000 });
const messages = [{ role: 'user', content: 'Say hello' }];
const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];

try {
  if (mode === 'stream') {
    const s = client.messages.stream({ model, max_tokens: 64, messages });
    let text = '';
    s.on('text', t => { text += t; });
    const m = await s.finalMessage();
    console.log(JSON.stringify({ status: 200, text, tools: [], stop: m.stop_reason,
      usage: [m.usage.input_tokens, m.usage.output_tokens] }));
  } else {
    const m = await client.messages.create(
      mode === 'tool' ? { model, max_tokens: 64, messages, tools } : { model, max_tokens: 64, messages });
    console.log(JSON.stringify({ status: 200,
      text: m.content.filter(b => b.type === 'text').map(b => b.text).join(''),
      tools: m.content.filter(b => b.type === 'tool_use').map(b => [b.name, b.input]),
      stop: m.stop_reason, usage: [m.usage.input_tokens, m.usage.output_tokens] }));
  }
} catch (e) {
  console.log(JSON.stringify({ status: e.status ?? 0, error: e.error?.error?.message ?? e.message,
    type: e.constructor.name }));
}
