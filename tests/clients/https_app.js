// https_app.js - an unmodified-style Node.js program that asks an
// OpenAI-compatible chat API one question with the https module, trusting
// what Node trusts (its own bundled roots, plus NODE_EXTRA_CA_CERTS when
// set), the key from OPENAI_API_KEY.  Run by t_https with Debian's own
// Node.js, whose TLS is the system libssl on memory BIOs.
//
// usage: node https_app.js URL MODEL
// Prints "<status> <model of the answer>" (or "<status> error <message>");
// exits 0 only for a 200 whose JSON body has choices, 1 otherwise, 2 if the
// request failed before any answer.
"use strict";
const https = require("https");
const http = require("http");

const [url, model] = process.argv.slice(2);
const body = JSON.stringify({model, temperature: 0,
  messages: [{role: "user", content: "hello from node"}]});
const u = new URL(url);
const lib = u.protocol === "https:" ? https : http;
const req = lib.request(u, {method: "POST", timeout: 20000, headers: {
  "Content-Type": "application/json",
  "Content-Length": Buffer.byteLength(body),
  "Authorization": "Bearer " + (process.env.OPENAI_API_KEY || "")}}, (res) => {
  const parts = [];
  res.on("data", (d) => parts.push(d));
  res.on("end", () => {
    const data = Buffer.concat(parts).toString();
    let d;
    try {
      d = JSON.parse(data);
    } catch (e) {
      console.log(res.statusCode, "error non-json", data.slice(0, 80));
      process.exit(1);
    }
    if (d.error) {
      console.log(res.statusCode, "error", d.error.message);
      process.exit(1);
    }
    console.log(res.statusCode, d.model);
    process.exit(res.statusCode === 200 && d.choices ? 0 : 1);
  });
});
req.on("timeout", () => req.destroy(new Error("timed out")));
req.on("error", (e) => {
  console.log("0 error " + e.name + ": " + e.message);
  process.exit(2);
});
req.end(body);
